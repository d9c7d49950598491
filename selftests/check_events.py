# SPDX-License-Identifier: GPL-2.0
"""Check that JSON Lines events are exactly the writes a test VMM step made.

check_events.py FILE --vm PID --region ID --bus mmio|pio --addr A --width W
                --count N [--start S] [--step T] [--seq0 Q]
                [--tid TID] [--after NS] [--before NS]

Every event's vcpu_tid must be TID (the test VMM runs its vCPU on its main
thread: TID is its pid), its ts_ns inside [--after, --before] (CLOCK_MONOTONIC
read before and after the run), and ts_ns may not go back on one vCPU. No
event may be flagged truncated: the test VMM's writes are single elements.

Prints "wanted X, got Y" for the first difference and exits 1.
"""
import argparse
import json
import sys


def value(a, i):
    """Write i of the step, as the test VMM's guest makes it."""
    v = (a.start + i * a.step) & 0xffffffff
    if a.width == 8:
        # The top half is the complement: each half is seen.
        return (~v & 0xffffffff) << 32 | v
    return v & ((1 << (8 * a.width)) - 1)


def check_fields(a, i, ev, last_ts):
    ts, tid = ev.get("ts_ns"), ev.get("vcpu_tid")
    if not isinstance(ts, int) or not isinstance(tid, int) or not ts or not tid:
        sys.exit(f"event {i}: ts_ns and vcpu_tid must be numbers, not 0: {ev}")
    if a.tid is not None and tid != a.tid:
        sys.exit(f"event {i}: wanted vcpu_tid {a.tid}, got {tid}")
    if a.after is not None and ts < a.after:
        sys.exit(f"event {i}: wanted ts_ns >= {a.after} (the run's start), got {ts}")
    if a.before is not None and ts > a.before:
        sys.exit(f"event {i}: wanted ts_ns <= {a.before} (the run's end), got {ts}")
    if ts < last_ts.get(tid, 0):
        sys.exit(f"event {i}: ts_ns went back on vCPU {tid}: {last_ts[tid]}, then {ts}")
    if ev.get("truncated"):
        sys.exit(f"event {i}: wanted no truncated flag, got {ev}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    for name in ("vm", "region", "addr", "width", "count", "start", "step", "seq0",
                 "tid", "after", "before"):
        p.add_argument("--" + name, type=lambda s: int(s, 0),
                       default={"start": 0, "step": 1, "seq0": 0}.get(name))
    p.add_argument("--bus", required=True)
    a = p.parse_args()

    last_ts = {}
    with open(a.file) as f:
        events = [json.loads(line) for line in f if line.strip()]
    if len(events) != a.count:
        sys.exit(f"wanted {a.count} events, got {len(events)}")
    for i, ev in enumerate(events):
        want = {"vm": a.vm, "bus": a.bus, "addr": a.addr, "width": a.width,
                "value": value(a, i), "region": a.region,
                "seq": a.seq0 + i}
        got = {k: ev.get(k) for k in want}
        if got != want:
            sys.exit(f"event {i}: wanted {want}, got {got}")
        check_fields(a, i, ev, last_ts)
        last_ts[ev["vcpu_tid"]] = ev["ts_ns"]


if __name__ == "__main__":
    main()
