#!/usr/bin/env python3
"""One producer, one consumer: items per second through a ConcurrentQueue.

    python bench/pipeline.py shared|view [N]

One thread pushes N items (default 400,000), the other pops them with the
blocking ``pop()``; the rate is N over the span from the first thread's
start to the last thread's end (each thread reads its own clock). ``view``
makes each thread its own view (``q.local()``); ``shared`` uses the queue
object itself. The script needs nothing beyond ConcurrentQueue's
push/pop, so it also runs against a checkout from before views existed
(``shared`` only): point PYTHONPATH at that checkout's python/ and
FTKIT_LIBRARY at its library, and alternate runs with today's to compare
(the issue-11 figures in docs/performance.md were made that way).
"""
from __future__ import annotations

import sys
import threading
import time

import ftkit


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "view"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 400_000
    if mode not in ("shared", "view"):
        print(__doc__, file=sys.stderr)
        return 2
    q = ftkit.ConcurrentQueue()
    start = threading.Barrier(2)
    spans: list[tuple[float, float]] = []

    def run(producer: bool) -> None:
        qq = q.local() if mode == "view" else q
        op = qq.push if producer else qq.pop
        start.wait()
        t0 = time.perf_counter()
        if producer:
            for _ in range(n):
                op(1)
        else:
            for _ in range(n):
                op()
        spans.append((t0, time.perf_counter()))

    threads = [threading.Thread(target=run, args=(p,)) for p in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    print(f"{mode}: {n / span / 1e6:.3f} M items/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
