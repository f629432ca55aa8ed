#!/usr/bin/env python3
"""Run the benchmark families on this interpreter and print/save the results.

    python bench/run.py [--family atomics] [--quick] [--json out.json]

Every family runs ftkit, the stdlib and the peers (ft_utils, cereggii) that
import on this interpreter, in one process, and prints ns/op for one thread
and aggregate Mops/s for 1..N threads. The markdown table it prints is the
one pasted into docs/performance.md.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import interpreter, run_case  # noqa: E402

FAMILIES = ["atomics", "counter", "queues", "deques", "dicts", "sync", "keepalive", "batch",
            "semaphore", "gather"]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", action="append", choices=FAMILIES)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="write results to this file")
    args = ap.parse_args()
    scale = 0.05 if args.quick else 1.0
    repeat = 2 if args.quick else args.repeat
    meta = {"interpreter": interpreter(), "machine": machine(),
            "date": datetime.date.today().isoformat(), "python": sys.version}
    print(f"# {meta['interpreter']} | {meta['machine']} | {meta['date']}")
    results = []
    for fam in args.family or FAMILIES:
        mod = __import__(fam)
        print(f"\n## {fam}\n")
        cols = ["1T", "2T"]
        print("| workload | implementation | 1 thread ns/op | 1T Mops/s | 2T Mops/s |")
        print("|---|---|---:|---:|---:|")
        for case in mod.cases():
            r = run_case(case, repeat=repeat, scale=scale)
            results.append(r)
            print(f"| {r.name} | {r.impl} | {r.ns_per_op:.0f} | " +
                  " | ".join(f"{r.mops.get(k, float('nan')):.2f}" for k in cols) + " |",
                  flush=True)
        if hasattr(mod, "extra"):
            print("\n| workload | implementation | Mops/s |\n|---|---|---:|")
            for r in mod.extra(repeat=max(1, repeat // 2), scale=scale):
                results.append(r)
                for k, v in r.mops.items():
                    print(f"| {r.name} | {r.impl} | {v:.2f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": [r.__dict__ for r in results]}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
