#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""QMP and NVMe doorbell trace helpers for the QEMU selftests.

Standard library only.  Subcommands:

  qmp SOCKET COMMAND [ARGS-JSON]
      Run one QMP command (after the capabilities handshake) and print its
      "return" value as JSON.  A QMP error prints {"error": ...} to stderr
      and exits 1.

  nvme-bar0 SOCKET [--wait SECONDS] [--interval SECONDS]
      Find the first NVMe controller (PCI class 0x0108) in query-pci and print
      {"bus":..,"slot":..,"function":..,"address":..,"size":..,"doorbells":..}.
      BAR0 is unmapped (QEMU reports no usable address) until the firmware has
      programmed it and turned memory decoding on; with --wait it polls until
      it is mapped, else it fails at once when it is not.

  parse-trace FILE [--skip-lines N]
      Turn QEMU's "log" trace backend lines of pci_nvme_mmio_doorbell_sq/_cq
      into JSON Lines {"kind":"sq_tail"|"cq_head","queue":N,"value":V}, in
      file order.  --skip-lines N ignores the first N lines (those of a
      boot before a system_reset).  Other lines, and a last line without its
      newline yet, are ignored.  The lines look like
        24211@1795316052.193895:pci_nvme_mmio_doorbell_sq sqid 0 new_tail 1
        24211@1795316052.194330:pci_nvme_mmio_doorbell_cq cqid 0 new_head 1
      or, without -msg timestamp=on,
        pci_nvme_mmio_doorbell_sq sqid 0 new_tail 1

  parse-writes FILE [--skip-lines N]
      The controller's register writes (below the doorbells, offset 0x1000)
      from pci_nvme_mmio_write lines, as JSON Lines
      {"offset":O,"value":V,"width":W}, in file order.  The lines look like
        24211@1795316052.193895:pci_nvme_mmio_write addr 0x14 data 0x460001 size 4

FILE may be "-" for standard input.
"""

import argparse
import json
import re
import socket
import sys
import time

NVME_CLASS = 0x0108
DOORBELL_BASE = 0x1000


class QMPError(Exception):
    pass


class QMP:
    """A minimal synchronous QMP client over a unix socket."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError("no QMP greeting: %r" % greeting)
        self.command("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise QMPError(json.dumps(reply["error"]))
            if "return" in reply:
                return reply["return"]

    def close(self):
        self.sock.close()


def _connect(path, timeout):
    """Connect, retrying while QEMU has not opened its socket yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return QMP(path)
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def cmd_qmp(args):
    qmp_args = json.loads(args.args) if args.args else None
    qmp = _connect(args.socket, args.connect_timeout)
    try:
        ret = qmp.command(args.command, qmp_args)
    except QMPError as err:
        print(json.dumps({"error": json.loads(str(err))}), file=sys.stderr)
        return 1
    finally:
        qmp.close()
    print(json.dumps(ret))
    return 0


def _walk_devices(buses):
    for bus in buses:
        for dev in bus.get("devices", []):
            yield bus.get("bus", 0), dev
            bridge = dev.get("pci_bridge")
            if bridge and "devices" in bridge:
                yield from _walk_devices([{"bus": bridge["bus"]["secondary"],
                                           "devices": bridge["devices"]}])


def _nvme_bar0(buses):
    """(device, bar0 or None) of the first NVMe controller, or (None, None)."""
    for busno, dev in _walk_devices(buses):
        if dev.get("class_info", {}).get("class") != NVME_CLASS:
            continue
        for region in dev.get("regions", []):
            if region.get("bar") == 0:
                return (busno, dev), region
        return (busno, dev), None
    return None, None


def _mapped(address):
    # QEMU keeps PCI_BAR_UNMAPPED (all ones, shown as -1 or 2^64-1) until
    # the BAR is programmed and memory decoding is enabled.
    return address not in (-1, 0xFFFFFFFFFFFFFFFF, 0) and address is not None


def cmd_nvme_bar0(args):
    qmp = _connect(args.socket, args.connect_timeout)
    deadline = time.monotonic() + args.wait
    try:
        while True:
            found, region = _nvme_bar0(qmp.command("query-pci"))
            if found is None:
                print(json.dumps({"error": "no NVMe controller in query-pci"}),
                      file=sys.stderr)
                return 1
            if region is not None and _mapped(region.get("address")):
                break
            if time.monotonic() >= deadline:
                print(json.dumps({"error": "NVMe BAR0 is not mapped",
                                  "region": region}), file=sys.stderr)
                return 1
            time.sleep(args.interval)
    finally:
        qmp.close()
    busno, dev = found
    address = region["address"] & 0xFFFFFFFFFFFFFFFF
    print(json.dumps({
        "bus": busno, "slot": dev["slot"], "function": dev["function"],
        "qdev_id": dev.get("qdev_id", ""),
        "address": address, "size": region["size"],
        "mem_type_64": region.get("mem_type_64", False),
        "doorbells": address + DOORBELL_BASE,
    }))
    return 0


def _open(path):
    return sys.stdin if path == "-" else open(path, encoding="utf-8",
                                              errors="replace")


# The "log" backend prints "NAME FMT", or with -msg timestamp=on
# "TID@SEC.USEC:NAME FMT".  The formats come from hw/nvme/trace-events:
#   pci_nvme_mmio_doorbell_sq(uint16_t sqid, uint16_t new_tail) "sqid %"PRIu16" new_tail %"PRIu16
#   pci_nvme_mmio_doorbell_cq(uint16_t cqid, uint16_t new_head) "cqid %"PRIu16" new_head %"PRIu16
TRACE_RE = re.compile(
    r"^(?:(?P<tid>\d+)@(?P<sec>\d+)\.(?P<usec>\d+):)?"
    r"pci_nvme_mmio_doorbell_(?P<q>sq|cq) "
    r"(?:sqid|cqid) (?P<queue>\d+) (?:new_tail|new_head) (?P<value>\d+)\s*$")


#   pci_nvme_mmio_write(uint64_t addr, uint64_t data, unsigned size)
#       "addr 0x%"PRIx64" data 0x%"PRIx64" size %d"
WRITE_RE = re.compile(
    r"^(?:\d+@\d+\.\d+:)?pci_nvme_mmio_write "
    r"addr 0x(?P<addr>[0-9a-f]+) data 0x(?P<data>[0-9a-f]+) size (?P<size>\d+)\s*$")


def whole_lines(lines, skip_lines):
    for n, line in enumerate(lines):
        if n < skip_lines:
            continue
        if not line.endswith("\n"):
            # QEMU may be half-way through writing it: not a whole record.
            break
        yield line


def parse_writes(lines, skip_lines=0):
    for line in whole_lines(lines, skip_lines):
        m = WRITE_RE.match(line)
        if m and int(m["addr"], 16) < DOORBELL_BASE:
            yield {"offset": int(m["addr"], 16), "value": int(m["data"], 16),
                   "width": int(m["size"])}


def cmd_parse_writes(args):
    with _open(args.file) as f:
        for rec in parse_writes(f, args.skip_lines):
            print(json.dumps(rec))
    return 0


def parse_trace(lines, skip_lines=0):
    for line in whole_lines(lines, skip_lines):
        m = TRACE_RE.match(line)
        if not m:
            continue
        yield {"kind": "sq_tail" if m["q"] == "sq" else "cq_head",
               "queue": int(m["queue"]), "value": int(m["value"])}


def cmd_parse_trace(args):
    with _open(args.file) as f:
        for rec in parse_trace(f, args.skip_lines):
            print(json.dumps(rec))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("qmp", help="run one QMP command")
    p.add_argument("socket")
    p.add_argument("command")
    p.add_argument("args", nargs="?", help="arguments as a JSON object")
    p.add_argument("--connect-timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_qmp)

    p = sub.add_parser("nvme-bar0", help="the NVMe controller's BAR0")
    p.add_argument("socket")
    p.add_argument("--wait", type=float, default=0.0)
    p.add_argument("--interval", type=float, default=0.005)
    p.add_argument("--connect-timeout", type=float, default=5.0)
    p.set_defaults(func=cmd_nvme_bar0)

    p = sub.add_parser("parse-trace", help="QEMU doorbell trace to JSON Lines")
    p.add_argument("file")
    p.add_argument("--skip-lines", type=int, default=0,
                   help="ignore the first N lines (an earlier boot's)")
    p.set_defaults(func=cmd_parse_trace)

    p = sub.add_parser("parse-writes", help="QEMU register write trace to JSON Lines")
    p.add_argument("file")
    p.add_argument("--skip-lines", type=int, default=0,
                   help="ignore the first N lines (an earlier boot's)")
    p.set_defaults(func=cmd_parse_writes)

    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (OSError, QMPError) as err:
        print(json.dumps({"error": str(err)}), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
