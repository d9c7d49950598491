#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Doorbell-to-interrupt pairs from QEMU's own NVMe trace, by mmiotrap's rule.

Usage: nvme_pairs.py FILE [--skip-lines N]

Reads QEMU's "log" trace backend lines (with -msg timestamp=on) of
pci_nvme_mmio_doorbell_sq and of pci_nvme_irq_pin / pci_nvme_irq_msix, and
applies the rule of docs/latency.md: a queue's first SQ tail doorbell since
its last answer opens an interval; an interrupt closes the intervals of the
queues whose confirmed route it is and of every queue still learning one,
and a queue learns its route from the interrupts that close it alone. The
pin is one route, each MSI-X vector one (KVM sees its address and data).
With SeaBIOS, whose admin queue is answered on the pin, that is the next
interrupt after each doorbell. Prints one JSON object: {"SQID": {"pairs": N, "sum_ns": S,
"buckets": {"LE_NS": COUNT, ...}}, ...} with the trap's log2 buckets
(bucket i holds [2^i, 2^(i+1)) ns and is named by 2^(i+1)), and "irqs": the
interrupts seen. QEMU stamps in microseconds, when it handles the doorbell
(after the exit) and before it asks KVM for the interrupt: its intervals
are a little shorter than the trap's.
"""

import argparse
import json
import re
import sys

LINE = re.compile(r"^\d+@(\d+)\.(\d+):(pci_nvme_\w+)(.*)$")
BUCKETS = 32
# MMIOTRAP_ROUTE_CONFIRM and MMIOTRAP_ROUTE_PATIENCE (include/mmiotrap_abi.h).
CONFIRM = 4
PATIENCE = 64


def bucket(ns):
    b = max(ns, 1).bit_length() - 1
    return 2 << min(b, BUCKETS - 1)


def answers(row, route):
    """Whether interrupt @route closes @row's open interval; counts it foreign if not."""
    if row["route"] is None or row["seen"] < CONFIRM or row["route"] == route:
        return True
    row["foreign"] += 1
    if row["foreign"] < PATIENCE:
        return False
    row["route"], row["seen"] = None, 0
    return True


def pairs(lines):
    open_at, out, routes, irqs = {}, {}, {}, 0
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        t = int(m.group(1)) * 1000000000 + int(m.group(2).ljust(6, "0")[:6]) * 1000
        event, args = m.group(3), m.group(4).split()
        if event == "pci_nvme_mmio_doorbell_sq":
            open_at.setdefault(int(args[1]), t)
        elif event in ("pci_nvme_irq_pin", "pci_nvme_irq_msix"):
            irqs += 1
            route = "pin" if event == "pci_nvme_irq_pin" else "msix " + args[-1]
            closed = []
            for q, start in list(open_at.items()):
                learn = routes.setdefault(q, {"route": None, "seen": 0, "foreign": 0})
                if not answers(learn, route):
                    continue
                learn["foreign"] = 0
                del open_at[q]
                closed.append(q)
                row = out.setdefault(str(q), {"pairs": 0, "sum_ns": 0, "buckets": {}})
                ns = t - start
                row["pairs"] += 1
                row["sum_ns"] += ns
                key = str(bucket(ns))
                row["buckets"][key] = row["buckets"].get(key, 0) + 1
            if len(closed) == 1:
                learn = routes[closed[0]]
                if learn["route"] == route:
                    learn["seen"] += 1
                elif learn["route"] is None or learn["seen"] < CONFIRM:
                    learn["route"], learn["seen"] = route, 1
    out["irqs"] = irqs
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--skip-lines", type=int, default=0)
    a = ap.parse_args()
    with (sys.stdin if a.file == "-" else open(a.file)) as f:
        lines = f.read().split("\n")[a.skip_lines:-1]
    json.dump(pairs(lines), sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
