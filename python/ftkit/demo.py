"""The demonstrations run by ``python -m ftkit``.

1. The race: threads increment a plain counter through a property and lose
   updates (read, add, write is three steps; another thread writes in
   between). The same work on an AtomicInt64 is exact.
2. A producer/consumer pipeline: producers push work items through a queue
   to consumers, with ftkit's ConcurrentQueue (single and batch operations)
   and with the stdlib's queue.Queue; every item must arrive exactly once.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from .atomic import AtomicInt64
from .queues import ConcurrentQueue


class PlainCounter:
    """What people write: correct with one thread, wrong with several."""

    def __init__(self) -> None:
        self._n = 0

    @property
    def value(self) -> int:
        return self._n

    @value.setter
    def value(self, v: int) -> None:
        self._n = v


def _run_threads(threads: int, body: Callable[[], None]) -> float:
    start = threading.Barrier(threads)

    def worker() -> None:
        start.wait()
        body()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def race(threads: int = 8, per_thread: int = 100_000) -> bool:
    expected = threads * per_thread
    plain = PlainCounter()

    def bump_plain() -> None:
        for _ in range(per_thread):
            plain.value += 1

    atomic = AtomicInt64()

    def bump_atomic() -> None:
        incr = atomic.incr
        for _ in range(per_thread):
            incr()

    t_plain = _run_threads(threads, bump_plain)
    t_atomic = _run_threads(threads, bump_atomic)
    lost = expected - plain.value
    print(f"\n[1] {threads} threads x {per_thread:,} increments = {expected:,} expected")
    print(f"    plain counter via property: {plain.value:>10,}  lost {lost:,} "
          f"({100.0 * lost / expected:.1f}%)  {t_plain:.2f}s")
    print(f"    ftkit AtomicInt64:          {atomic.get():>10,}  lost "
          f"{expected - atomic.get():,}  {t_atomic:.2f}s")
    return atomic.get() == expected


def _pipeline(name: str, producers: int, consumers: int, items: int, batch: int) -> bool:
    """Push `items` ints from `producers` threads to `consumers` threads."""
    import queue as stdqueue

    per = items // producers
    total = per * producers
    sums = [0] * consumers
    counts = [0] * consumers
    if name == "queue.Queue":
        q: object = stdqueue.Queue()
        push, pop = q.put, q.get  # type: ignore[attr-defined]
        stop = None
    else:
        q = ConcurrentQueue()
        push, pop = q.push, q.pop  # type: ignore[attr-defined]

    def produce(p: int) -> None:
        base = p * per
        if batch > 1:
            for k in range(0, per, batch):
                q.push_many(range(base + k, base + min(k + batch, per)))  # type: ignore[attr-defined]
        else:
            for k in range(base, base + per):
                push(k)

    def consume(c: int) -> None:
        s = n = 0
        while True:
            if batch > 1:
                got = q.pop_many(batch)  # type: ignore[attr-defined]
                work = [v for v in got if v is not stop]
                s += sum(work)
                n += len(work)
                stops = len(got) - len(work)
                if stops:
                    for _ in range(stops - 1):  # took another consumer's marker
                        push(stop)
                    break
            else:
                v = pop()
                if v is stop:
                    break
                s += v
                n += 1
        sums[c], counts[c] = s, n

    stop = object()
    ts = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    cs = [threading.Thread(target=consume, args=(c,)) for c in range(consumers)]
    t0 = time.perf_counter()
    for t in ts + cs:
        t.start()
    for t in ts:
        t.join()
    for _ in cs:
        push(stop)  # one stop marker per consumer, after all the work
    for t in cs:
        t.join()
    dt = time.perf_counter() - t0
    ok = sum(counts) == total and sum(sums) == total * (total - 1) // 2
    label = f"{name}{f' (batches of {batch})' if batch > 1 else ''}"
    print(f"    {label:38s} {total / dt / 1e6:6.2f} M items/s  "
          f"{'exact' if ok else 'WRONG'} ({sum(counts):,} items)")
    return ok


def pipeline(threads: int = 8, items: int = 200_000) -> bool:
    producers = max(1, threads // 2)
    consumers = max(1, threads - producers)
    print(f"\n[2] pipeline: {producers} producers -> {consumers} consumers, {items:,} items")
    ok = _pipeline("queue.Queue", producers, consumers, items // 4, 1)
    ok &= _pipeline("ftkit ConcurrentQueue", producers, consumers, items, 1)
    ok &= _pipeline("ftkit ConcurrentQueue", producers, consumers, items, 64)
    return ok


def run(threads: int = 8) -> int:
    ok = race(threads)
    ok &= pipeline(threads)
    print("\nall demonstrations correct" if ok else "\nDEMONSTRATION FAILED")
    return 0 if ok else 1
