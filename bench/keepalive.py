"""Measure keep-alive designs for Python objects stored as words in C.

A: per-operation C slot word (ftk_slot_alloc_v / ftk_slot_free), object kept
   in a per-container dict {word: obj}.
B: per-container pool of words refilled 64 at a time (ftk_slot_alloc_many),
   frees batched 64 at a time; object kept in a per-container dict.
H: ffi.new_handle(obj) kept alive in a per-container dict {address: handle}.

Each op = store one object and take it back (what a push+pop costs on top
of the container itself). Prints ns/op for 1 thread and aggregate Mops/s
for 2 threads sharing one container.
"""
from __future__ import annotations

import sys
import threading
import time

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "python"))
from ftkit._lib import ffi, lib  # noqa: E402

N = 200_000


class DesignA:
    def __init__(self):
        self.objs = {}
        self.alloc = lib.ftk_slot_alloc_v
        self.free = lib.ftk_slot_free

    def store(self, obj):
        w = self.alloc()
        self.objs[w] = obj
        return w

    def take(self, w):
        obj = self.objs.pop(w)
        self.free(w)
        return obj


class DesignB:
    BATCH = 64

    def __init__(self):
        self.objs = {}
        self.pool = []
        self.freed = []
        self.buf_lock = threading.Lock()

    def store(self, obj):
        try:
            w = self.pool.pop()
        except IndexError:
            buf = ffi.new("uint64_t[]", self.BATCH)
            lib.ftk_slot_alloc_many(buf, self.BATCH)
            words = ffi.unpack(buf, self.BATCH)
            w = words.pop()
            self.pool.extend(words)
        self.objs[w] = obj
        return w

    def take(self, w):
        obj = self.objs.pop(w)
        freed = self.freed
        freed.append(w)
        if len(freed) >= self.BATCH:
            with self.buf_lock:
                batch = freed[:]
                del freed[:len(batch)]
            lib.ftk_slot_free_many(batch, len(batch), ffi.NULL)
        return obj


class DesignH:
    def __init__(self):
        self.objs = {}

    def store(self, obj):
        h = ffi.new_handle(obj)
        w = int(ffi.cast("uintptr_t", h))
        self.objs[w] = h
        return w

    def take(self, w):
        return ffi.from_handle(self.objs.pop(w))


def run(design, nthreads):
    def work(n):
        store, take = design.store, design.take
        o = object()
        for _ in range(n):
            take(store(o))

    per = N // nthreads
    ts = [threading.Thread(target=work, args=(per,)) for _ in range(nthreads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0, per * nthreads


def main():
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"{sys.version.split()[0]} gil={'on' if gil else 'off'}")
    for name, cls in [("A per-op C slot + dict", DesignA), ("B pooled words + dict", DesignB),
                      ("H ffi.new_handle + dict", DesignH)]:
        best1 = min(run(cls(), 1)[0] for _ in range(3))
        best2 = min(run(cls(), 2)[0] for _ in range(3))
        print(f"{name:28s} 1T {best1 / N * 1e9:7.1f} ns/op   2T {N / best2 / 1e6:6.2f} Mops/s")


if __name__ == "__main__":
    main()
