"""The demonstrations run by ``python -m ftkit``.

1. The race: threads increment a plain counter through a property and lose
   updates (read, add, write is three steps; another thread writes in
   between). The same work on an AtomicInt64 is exact.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from .atomic import AtomicInt64


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


def run(threads: int = 8) -> int:
    ok = race(threads)
    print("\nall demonstrations correct" if ok else "\nDEMONSTRATION FAILED")
    return 0 if ok else 1
