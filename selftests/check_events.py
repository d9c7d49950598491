# SPDX-License-Identifier: GPL-2.0
"""Check that JSON Lines events are exactly the writes a test VMM step made.

check_events.py FILE --vm PID --region ID --bus mmio|pio --addr A --width W
                --count N [--start S] [--step T] [--seq0 Q]

Prints "wanted X, got Y" for the first difference and exits 1.
"""
import argparse
import json
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    for name in ("vm", "region", "addr", "width", "count", "start", "step", "seq0"):
        p.add_argument("--" + name, type=lambda s: int(s, 0),
                       default={"start": 0, "step": 1, "seq0": 0}.get(name))
    p.add_argument("--bus", required=True)
    a = p.parse_args()

    with open(a.file) as f:
        events = [json.loads(line) for line in f if line.strip()]
    if len(events) != a.count:
        sys.exit(f"wanted {a.count} events, got {len(events)}")
    mask = (1 << (8 * a.width)) - 1
    for i, ev in enumerate(events):
        want = {"vm": a.vm, "bus": a.bus, "addr": a.addr, "width": a.width,
                "value": (a.start + i * a.step) & mask, "region": a.region,
                "seq": a.seq0 + i}
        got = {k: ev.get(k) for k in want}
        if got != want:
            sys.exit(f"event {i}: wanted {want}, got {got}")
        if not isinstance(ev.get("ts_ns"), int) or not isinstance(ev.get("vcpu_tid"), int):
            sys.exit(f"event {i}: ts_ns and vcpu_tid must be numbers: {ev}")


if __name__ == "__main__":
    main()
