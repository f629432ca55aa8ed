#!/usr/bin/env python3
"""Threads on an interpreter WITH a GIL (CPython 3.11, PyPy): ftkit against
the stdlib, and the batch paths that avoid the per-call GIL hand-off.

    python bench/gil.py [--ops 100000] [--threads 1 2 8] [--repeat 3] [--json out.json]

cffi releases the GIL around every foreign call. On a GIL interpreter a
thread that returns from a ftkit call must take the GIL back; with several
runnable threads another one usually got it meanwhile, so every operation
becomes a GIL hand-off (a futex wake and a context switch) instead of the
~5 ms switch interval of pure-Python code. This script measures that cost and
what avoids it, with every workload checked for exactness:

  counter  each thread does OPS increments of one shared counter:
           plain int (racy; the reference, loses updates), threading.Lock + int,
           AtomicInt64.incr (bound once), AtomicInt64.add(k) flushing a
           thread-local count every K increments, and one add() per thread.
  queue    each thread does OPS put+get pairs on one shared queue:
           queue.Queue, queue.SimpleQueue, ConcurrentQueue push/pop (bound),
           ConcurrentQueue push_many/pop_many in batches of 64 (per item).

Figures are aggregate M ops/s (wall time, threads released by a barrier,
best of --repeat), per family the ratio to the stdlib reference (Lock + int;
queue.Queue) measured in the same run, and the process CPU time (user + sys,
all threads) per operation at the largest thread count, lowest of --repeat:
on a shared, loaded host wall time also measures how much CPU the scheduler
gave the process, while CPU time per operation shows what the hand-offs cost
(futex calls, context switches), and the context switches of the process
(voluntary + involuntary, getrusage) per 1,000 operations count them. Read
ratios, not absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import resource
import sys
import threading
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ftkit  # noqa: E402

FLUSH = 100   # AtomicInt64.add(k): thread-local increments per shared add
BATCH = 64    # push_many/pop_many batch size


def interpreter() -> str:
    impl = platform.python_implementation()
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    ver = sys.version.split()[0]
    if impl == "PyPy":
        ver += " (PyPy " + ".".join(map(str, sys.pypy_version_info[:3])) + ")"  # type: ignore[attr-defined]
    return f"{impl} {ver} GIL {'on' if gil else 'off'}"


# ---- counter workloads: make(ops) -> (body(), check() -> (ok, detail)) -------------

class _Box:
    __slots__ = ("value", "lock")

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def counter_plain(ops: int, k: int):
    box = _Box()

    def body() -> None:
        for _ in range(ops):
            box.value += 1
    return body, lambda: (None, f"lost {ops * k - box.value:,}")


def counter_lock(ops: int, k: int):
    box = _Box()

    def body() -> None:
        lock = box.lock
        for _ in range(ops):
            with lock:
                box.value += 1
    return body, lambda: (box.value == ops * k, "")


def counter_incr(ops: int, k: int):
    x = ftkit.AtomicInt64()

    def body() -> None:
        incr = x.incr
        for _ in range(ops):
            incr()
    return body, lambda: (x.get() == ops * k, "")


def counter_add_k(ops: int, k: int):
    x = ftkit.AtomicInt64()

    def body() -> None:
        add = x.add
        n = 0
        for _ in range(ops):
            n += 1
            if n == FLUSH:
                add(n)
                n = 0
        if n:
            add(n)
    return body, lambda: (x.get() == ops * k, "")


def counter_add_once(ops: int, k: int):
    x = ftkit.AtomicInt64()

    def body() -> None:
        n = 0
        for _ in range(ops):
            n += 1
        x.add(n)
    return body, lambda: (x.get() == ops * k, "")


# ---- queue workloads: each thread does ops put+get pairs ------------------------

def _pairs(q_put: Callable, q_get: Callable, ops: int, k: int, got: list):
    def body() -> None:
        s = 0
        for i in range(ops):
            q_put(i)
            s += q_get()
        got.append(s)
    return body, lambda: (sum(got) == k * ops * (ops - 1) // 2, "")


def queue_std(ops: int, k: int):
    q: queue.Queue = queue.Queue()
    return _pairs(q.put, q.get, ops, k, [])


def queue_simple(ops: int, k: int):
    q: queue.SimpleQueue = queue.SimpleQueue()
    return _pairs(q.put, q.get, ops, k, [])


def queue_ftkit(ops: int, k: int):
    q = ftkit.ConcurrentQueue()
    return _pairs(q.push, q.pop, ops, k, [])


def queue_ftkit_batch(ops: int, k: int):
    q = ftkit.ConcurrentQueue()
    got: list = []

    def body() -> None:
        push_many, pop_many = q.push_many, q.pop_many
        s = 0
        for base in range(0, ops, BATCH):
            chunk = range(base, min(base + BATCH, ops))
            push_many(chunk)
            need = len(chunk)
            while need:  # other threads' items may come first: take as many as we put
                items = pop_many(need)
                s += sum(items)
                need -= len(items)
        got.append(s)
    return body, lambda: (sum(got) == k * ops * (ops - 1) // 2, "")


FAMILIES = {
    "counter": [
        ("plain int (racy: reference only)", counter_plain),
        ("threading.Lock + int", counter_lock),
        ("ftkit AtomicInt64.incr (bound)", counter_incr),
        (f"ftkit AtomicInt64.add(k), local count flushed every {FLUSH}", counter_add_k),
        ("ftkit AtomicInt64.add(n) once per thread", counter_add_once),
    ],
    "queue": [
        ("queue.Queue put+get", queue_std),
        ("queue.SimpleQueue put+get", queue_simple),
        ("ftkit ConcurrentQueue push+pop (bound)", queue_ftkit),
        (f"ftkit ConcurrentQueue push_many+pop_many, batch {BATCH}", queue_ftkit_batch),
    ],
}
REFERENCE = {"counter": "threading.Lock + int", "queue": "queue.Queue put+get"}


def _switches() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_nvcsw + r.ru_nivcsw


def run_once(make, ops: int, k: int) -> tuple[float, float, float, object, str]:
    body, check = make(ops, k)
    barrier = threading.Barrier(k + 1)

    def worker() -> None:
        barrier.wait()
        body()

    ts = [threading.Thread(target=worker) for _ in range(k)]
    for t in ts:
        t.start()
    barrier.wait()
    t0, c0, s0 = time.perf_counter(), time.process_time(), _switches()
    for t in ts:
        t.join()
    dt, cpu, sw = time.perf_counter() - t0, time.process_time() - c0, _switches() - s0
    ok, detail = check()
    return ops * k / dt / 1e6, cpu * 1e9 / (ops * k), sw * 1e3 / (ops * k), ok, detail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=100_000, help="operations per thread")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2, 8])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--family", choices=list(FAMILIES), action="append")
    ap.add_argument("--json")
    args = ap.parse_args()
    print(f"# {interpreter()} | {os.cpu_count()} cores | {args.ops:,} ops per thread, "
          f"best of {args.repeat}")
    rows = []
    all_ok = True
    for fam in args.family or list(FAMILIES):
        cols = " | ".join(f"{k}T Mops/s | {k}T vs ref" for k in args.threads)
        kmax = max(args.threads)
        print(f"\n## {fam}\n\n| implementation | {cols} | {kmax}T CPU ns/op "
              f"| {kmax}T switches/1k ops | exact |")
        print("|---|" + "---:|---:|" * len(args.threads) + "---:|---:|---|")
        table: dict = {}
        for name, make in FAMILIES[fam]:
            res = {}
            exact = "yes"
            cpu_ns = switches = float("inf")
            for k in args.threads:
                best = 0.0
                for _ in range(args.repeat):
                    mops, cpu, sw, ok, detail = run_once(make, args.ops, k)
                    best = max(best, mops)
                    if k == kmax:
                        cpu_ns, switches = min(cpu_ns, cpu), min(switches, sw)
                    if ok is False:
                        exact, all_ok = "NO", False
                    elif ok is None:
                        exact = f"racy ({detail} at {k}T)"
                res[k] = best
            table[name] = res
            ref = table.get(REFERENCE[fam])
            cells = " | ".join(
                f"{res[k]:.2f} | {res[k] / ref[k]:.2f}x" if ref else f"{res[k]:.2f} | -"
                for k in args.threads)
            print(f"| {name} | {cells} | {cpu_ns:.0f} | {switches:.1f} | {exact} |", flush=True)
            rows.append({"family": fam, "impl": name, "mops": res, "cpu_ns": cpu_ns,
                         "switches_per_1k": switches, "exact": exact})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"interpreter": interpreter(), "ops": args.ops, "rows": rows}, f, indent=1)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
