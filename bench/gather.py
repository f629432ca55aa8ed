"""Gathering-iterator workloads (issue 13): ordered fan-in.

* insert+take pair on one thread: ``insert(k, obj)`` then one iterator step
  (the value comes straight back), beside the raw cffi floor (one
  ``ftk_gather_insert`` + one ``ftk_gather_take_v`` with a constant word)
  and ft_utils' ConcurrentGatheringIterator.
* 4 inserting threads + 1 consumer, 100,000 values: items per second, wall
  time from start to the consumer's last item (``extra``).
* wake-up latency: one producer inserts key k every ~0.5 ms with the
  ``perf_counter_ns()`` of the moment just before the insert as its value;
  the consumer, asleep waiting for k, takes the difference when its step
  returns. p50 and p99 over the run (``extra``).

Run alone: ``python bench/gather.py [--quick]``; or through bench/run.py.
"""
from __future__ import annotations

import statistics
import sys
import threading
import time

from _harness import Case, Result, try_import

FANIN_ITEMS = 100_000
LAT_SAMPLES = 2_000


def _shared() -> dict:
    import itertools

    import ftkit
    from ftkit._lib import lib

    g = ftkit.ConcurrentGatheringIterator()
    return {"g": g, "it": g.iterator(2**62), "ins": g.insert, "ks": itertools.count(),
            "lib": lib, "h": g._h, "obj": object()}


def _ft_shared() -> dict:
    import itertools

    ft = try_import("ft_utils.concurrency")
    g = ft.ConcurrentGatheringIterator()
    return {"fit": g.iterator(2**62), "fins": g.insert, "ks": itertools.count(),
            "obj": object()}


def cases() -> list[Case]:
    F = "gather"
    out = [
        Case(F, "insert+take pair", "ftkit ConcurrentGatheringIterator",
             "ins(next(ks), obj); next(it)", shared=_shared, threads=()),
        Case(F, "insert+take pair", "ftkit raw cffi insert + take_v",
             "insert(h, 1, 5); take(h, 1, 0)",
             "insert = lib.ftk_gather_insert; take = lib.ftk_gather_take_v",
             shared=_shared, threads=()),
        Case(F, "insert", "ftkit ConcurrentGatheringIterator", "ins(next(ks), obj)",
             shared=_shared, threads=(), number=100_000),
        Case(F, "insert", "ftkit raw cffi insert", "insert(h, next(ks), 5)",
             "insert = lib.ftk_gather_insert", shared=_shared, threads=(), number=100_000),
    ]
    ft = try_import("ft_utils.concurrency")
    if ft is not None and hasattr(ft, "ConcurrentGatheringIterator"):
        out.append(Case(F, "insert+take pair", "ft_utils ConcurrentGatheringIterator",
                        "fins(next(ks), obj); next(fit)", shared=_ft_shared, threads=()))
        out.append(Case(F, "insert", "ft_utils ConcurrentGatheringIterator",
                        "fins(next(ks), obj)", shared=_ft_shared, threads=(), number=100_000))
    return out


def _fanin(make, n: int, producers: int = 4, local: bool = False) -> float:
    """Items/s (millions) for `producers` inserters (key p, p+producers, ...)
    and one consumer iterating keys 0..n-1, from the barrier to the last."""
    g = make()
    barrier = threading.Barrier(producers + 2)
    obj = object()

    def producer(p: int) -> None:
        ins = (g.local() if local else g).insert
        barrier.wait()
        for k in range(p, n, producers):
            ins(k, obj)

    done = [0.0]

    def consumer() -> None:
        it = g.iterator(n - 1)
        barrier.wait()
        for _ in it:
            pass
        done[0] = time.perf_counter()

    ts = [threading.Thread(target=producer, args=(p,)) for p in range(producers)]
    ts.append(threading.Thread(target=consumer))
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join()
    return n / (done[0] - t0) / 1e6


def _latency(make, samples: int, gap: float = 0.0005) -> list[float]:
    """Wake-up latencies (microseconds) of a consumer asleep waiting for the
    key being inserted."""
    g = make()
    now = time.perf_counter_ns
    lat: list[float] = []

    def consumer() -> None:
        for t_ins in g.iterator(samples - 1):
            lat.append((now() - t_ins) / 1e3)

    c = threading.Thread(target=consumer)
    c.start()
    ins = g.insert
    for k in range(samples):
        time.sleep(gap)  # the consumer is asleep by now
        ins(k, now())
    c.join()
    return lat


def _impls() -> list:
    import ftkit

    impls = [("ftkit ConcurrentGatheringIterator", ftkit.ConcurrentGatheringIterator, False),
             ("ftkit, producers use local() views", ftkit.ConcurrentGatheringIterator, True)]
    ft = try_import("ft_utils.concurrency")
    if ft is not None and hasattr(ft, "ConcurrentGatheringIterator"):
        impls.append(("ft_utils ConcurrentGatheringIterator", ft.ConcurrentGatheringIterator,
                      False))
    return impls


def extra(repeat: int = 3, scale: float = 1.0) -> list[Result]:
    n = max(5_000, int(FANIN_ITEMS * scale))
    samples = max(200, int(LAT_SAMPLES * scale))
    out = []
    # alternate the implementations within each repetition (same noise)
    best: dict = {}
    lats: dict = {}
    for _ in range(repeat):
        for name, make, local in _impls():
            best[name] = max(best.get(name, 0.0), _fanin(make, n, 4, local))
            if not local:
                lats.setdefault(name, []).extend(_latency(make, samples))
    for name, v in best.items():
        out.append(Result("gather", f"4 inserters + 1 consumer, {n} values", name,
                          float("nan"), {"M items/s": v}))
    for name, ls in lats.items():
        q = statistics.quantiles(ls, n=100)
        out.append(Result("gather", "wake-up latency p50 (us)", name, float("nan"),
                          {"p50 us": q[49]}))
        out.append(Result("gather", "wake-up latency p99 (us)", name, float("nan"),
                          {"p99 us": q[98]}))
    return out


if __name__ == "__main__":
    from _harness import interpreter, run_case

    quick = "--quick" in sys.argv
    print(f"# {interpreter()}")
    for case in cases():
        r = run_case(case, repeat=2 if quick else 5, scale=0.05 if quick else 1.0)
        print(f"| {r.name} | {r.impl} | {r.ns_per_op:.0f} ns |", flush=True)
    for r in extra(repeat=1 if quick else 3, scale=0.1 if quick else 1.0):
        for k, v in r.mops.items():
            print(f"| {r.name} | {r.impl} | {v:.3f} {k} |", flush=True)
