#!/usr/bin/env python3
"""Single-operation costs of ftkit beside the interpreter's own stdlib
equivalents; written for PyPy, runs unchanged on CPython for the rows beside.

    pypy3 bench/pypy.py [--number 1000000] [--repeat 5] [--json out.json]

PyPy's JIT compiles a cffi call to a direct call of the C function (no
argument boxing, no call frame), so a ftkit operation costs about the C work
plus a GIL release/re-acquire. Each row is a statement run in a ``timeit``
loop and timed in thread CPU time: ns per operation, best of ``--repeat`` after
one untimed warm-up run (the JIT compiles the loop during it), minus the empty
loop measured the same way.
Pairs (push+pop, put+get, set+get) are reported per pair. Workloads:

  counter  AtomicInt64 incr/get (bound and via the object), the raw cffi call,
           threading.Lock + int, a plain int attribute (no safety: the floor)
  queue    ConcurrentQueue push+pop (bound), push_many+pop_many of 64 (per
           item), queue.Queue and queue.SimpleQueue put+get, collections.deque
           append+popleft
  dict     ConcurrentDict set+get, get; dict and threading.Lock + dict
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import timeit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gil import interpreter  # noqa: E402

SETUP_COMMON = """
import threading, queue, collections
import ftkit
from ftkit._lib import lib
class Box:
    __slots__ = ("value", "lock")
    def __init__(self):
        self.value = 0
        self.lock = threading.Lock()
box = Box(); lock = box.lock
x = ftkit.AtomicInt64(); incr = x.incr; get = x.get; add = lib.ftk_int64_add_v; h = x._h
q = ftkit.ConcurrentQueue(); push = q.push; pop = q.pop
push_many = q.push_many; pop_many = q.pop_many; chunk = list(range(64))
sq = queue.Queue(); ssq = queue.SimpleQueue(); dq = collections.deque()
cd = ftkit.ConcurrentDict(); cd["k"] = 1
d = {"k": 1}
"""

# (family, workload, implementation, statement, operations per statement)
CASES = [
    ("counter", "incr", "ftkit incr() bound", "incr()", 1),
    ("counter", "incr", "ftkit x.incr()", "x.incr()", 1),
    ("counter", "incr", "raw cffi ftk_int64_add_v(h, 1)", "add(h, 1)", 1),
    ("counter", "incr", "threading.Lock + int", "with lock: box.value += 1", 1),
    ("counter", "incr", "plain int attribute (not thread-safe)", "box.value += 1", 1),
    ("counter", "get", "ftkit get() bound", "get()", 1),
    ("counter", "get", "threading.Lock + int", "with lock: box.value", 1),
    ("queue", "push+pop", "ftkit ConcurrentQueue push/pop bound", "push(1); pop()", 1),
    ("queue", "push+pop", "ftkit push_many/pop_many, batch 64 (per item)",
     "push_many(chunk); pop_many(64)", 64),
    ("queue", "push+pop", "queue.Queue put/get", "sq.put(1); sq.get()", 1),
    ("queue", "push+pop", "queue.SimpleQueue put/get", "ssq.put(1); ssq.get()", 1),
    ("queue", "push+pop", "collections.deque append/popleft (no blocking)",
     "dq.append(1); dq.popleft()", 1),
    ("dict", "set+get", "ftkit ConcurrentDict", "cd['k'] = 2; cd['k']", 1),
    ("dict", "set+get", "dict", "d['k'] = 2; d['k']", 1),
    ("dict", "set+get", "threading.Lock + dict", "with lock: d['k'] = 2\nwith lock: d['k']", 1),
    ("dict", "get", "ftkit ConcurrentDict", "cd['k']", 1),
    ("dict", "get", "dict", "d['k']", 1),
]


def measure(stmt: str, number: int, repeat: int) -> float:
    # thread CPU time, not wall time: this host is shared and loaded, and a
    # descheduled thread's wait is not the statement's cost
    t = timeit.Timer(stmt, SETUP_COMMON, timer=time.thread_time)
    t.timeit(number)  # warm-up: the JIT compiles the loop here
    gc.collect()
    return min(t.repeat(repeat=repeat, number=number)) / number


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=0,
                    help="loop iterations (default 2,000,000 on PyPy, 200,000 on CPython)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    pypy = platform.python_implementation() == "PyPy"
    number = args.number or (2_000_000 if pypy else 200_000)
    print(f"# {interpreter()} | {os.cpu_count()} cores | {number:,} iterations, "
          f"best of {args.repeat} after a warm-up")
    empty = measure("pass", number, args.repeat)
    rows = []
    fam = None
    for family, work, impl, stmt, per in CASES:
        if family != fam:
            fam = family
            print(f"\n## {family}\n\n| workload | implementation | ns/op |\n|---|---|---:|")
        n = number // per if per > 1 else number
        ns = max(0.0, measure(stmt, n, args.repeat) - empty) * 1e9 / per
        rows.append({"family": family, "workload": work, "impl": impl, "ns": ns})
        print(f"| {work} | {impl} | {ns:.1f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"interpreter": interpreter(), "number": number, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
