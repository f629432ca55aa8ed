#!/usr/bin/env python3
"""Python-side bytes per ConcurrentDict entry, by tracemalloc.

    python bench/dict_memory.py [N]

Fills a ConcurrentDict with N (default 100,000) string keys made before the
measurement and int values, collects, and prints what tracemalloc counts as
allocated since the start, per entry: the keep-alive table (its lists, slot
words and records) and the binding's objects. The C index's nodes are not
Python allocations and are not counted.
"""
from __future__ import annotations

import gc
import sys
import tracemalloc

import ftkit


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    keys = [f"k{i}" for i in range(n)]
    vals = list(range(n))
    gc.collect()
    tracemalloc.start()
    d = ftkit.ConcurrentDict()
    for k, v in zip(keys, vals):
        d[k] = v
    gc.collect()
    cur, _peak = tracemalloc.get_traced_memory()
    print(f"{cur / n:.0f} bytes per entry (Python side, {n} str keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
