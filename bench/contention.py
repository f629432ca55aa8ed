#!/usr/bin/env python3
"""Where a second thread's time goes: one shared part at a time.

    python bench/contention.py [--threads 1,2,4] [--repeat 3] [--md F] [--json F]

bench/scaling.py says *whether* a primitive scales; this file says *why
not*, by running the same hot loop with one part shared between the threads
and everything else owned by each thread. Each row is aggregate Mops/s at
each thread count (threads released by a barrier, best of ``--repeat``), so
a row that stays flat while its neighbour grows names the part that costs.
Run it on the machine whose scaling you want to explain (on fewer cores
than threads, nothing scales).

Families:

* ``cffi function``: a closure calling ``ftk_last_status()`` (the cheapest
  C call) through the module's function object (a global), through one
  function object all threads share (a closure cell), or through a copy
  each thread made (``ftkit._common.thread_copy``, what views use).
* ``queue pair (model)``: push+pop pairs over the C queue with the binding's
  keep-alive scheme inlined (free-index list, object list, release list):
  the C queue shared or one per thread, crossed with the keep-alive lists
  shared or one set per thread. The shared/shared corner is what
  ``ConcurrentQueue`` does; one C queue per thread with per-thread lists is
  the ceiling.
* ``dict views``: real ``ConcurrentDict`` views, gets only vs 50/50
  get/set, 1024 int keys, each thread starting at its own key offset;
  plus the bare lookup for the floor.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import threading
import time
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import interpreter  # noqa: E402

import ftkit  # noqa: E402
from ftkit._common import call_handle, new_handle, thread_copy  # noqa: E402
from ftkit._lib import ffi, lib  # noqa: E402

Body = Callable[[int], Callable[[], None]]  # tid -> the loop to time


def run(k: int, setup: Callable[[], Any], body: Callable[[Any, int], Callable[[], None]],
        ops: int) -> float:
    """Aggregate Mops/s of k threads each running body(shared, tid)(): total
    operations over the span from the first thread's start to the last
    one's end (each thread reads the clock itself, so a main thread that is
    descheduled cannot shorten the span)."""
    shared = setup()
    ready = threading.Barrier(k)
    errors: list = []
    spans: list = []

    def thread(tid: int) -> None:
        try:
            loop = body(shared, tid)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            ready.abort()
            return
        ready.wait()
        t0 = time.perf_counter()
        try:
            loop()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        spans.append((t0, time.perf_counter()))

    ts = [threading.Thread(target=thread, args=(i,)) for i in range(k)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = max(e for _, e in spans) - min(b for b, _ in spans) if spans else 1.0
    if errors:
        raise errors[0]
    teardown = getattr(shared, "close", None)
    if teardown is not None:
        teardown()
    return k * ops / dt / 1e6


# -- cffi function objects ---------------------------------------------------------

N_CALLS = 1_000_000
_LAST = lib.ftk_last_status


def _fn_body(kind: str) -> Callable[[Any, int], Callable[[], None]]:
    """A closure calling ftk_last_status: the module's function object
    (``global``), one object all threads share (``cell``), or this thread's
    copy (``copy``)."""
    def body(shared: Any, _tid: int) -> Callable[[], None]:
        if kind == "global":
            def call() -> int:
                return _LAST()
        else:
            f = shared if kind == "cell" else thread_copy(_LAST)

            def call() -> int:
                return f()

        def loop() -> None:
            for _ in range(N_CALLS):
                call()
        return loop
    return body


# -- queue pairs: which shared part costs -----------------------------------------

N_PAIRS = 200_000
_CAP = 1 << 16


class _Lists:
    """The keep-alive lists of an unversioned table (ftkit._keepalive), big
    enough that the model never refills: objects, free indices, releases."""

    def __init__(self) -> None:
        self.objs: list = [None] * _CAP
        self.free = list(range(_CAP - 1, 0, -1))
        self.back = self.free  # a pair releases what it took: reuse at once


def _pairs_loop(push: Callable[[Any], None], pop: Callable[[], Any],
                done: Callable[[], None] | None = None) -> Callable[[], None]:
    """The measured loop of a queue model: N_PAIRS push + pop pairs."""
    def loop() -> None:
        for _ in range(N_PAIRS):
            push(1)
            pop()
        if done is not None:
            done()
    return loop


class _QueueShared:
    def __init__(self) -> None:
        self.h = new_handle(lib.ftk_queue_new, 0)
        self.lists = _Lists()
        self.cells = [[None] for _ in range(_CAP)]
        self.pool = list(range(_CAP - 1, 0, -1))  # indices handed out in chunks
        self.lock = threading.Lock()

    def close(self) -> None:
        lib.ftk_queue_free(self.h)


def _queue_body(shared_queue: bool, shared_lists: bool, shared_objs: bool = False
                ) -> Callable[[Any, int], Callable[[], None]]:
    def body(s: _QueueShared, _tid: int) -> Callable[[], None]:
        h = s.h if shared_queue else new_handle(lib.ftk_queue_new, 0)
        hh = ffi.cast("ftk_handle_t", h)  # this thread's handle cdata
        t = s.lists if shared_lists else _Lists()
        objs, free, back = t.objs, t.free, t.back
        if shared_objs:  # this thread's own index lists over the shared objects
            objs = s.lists.objs
        try_push = thread_copy(lib.ftk_queue_try_push)
        try_pop_v = thread_copy(lib.ftk_queue_try_pop_v)

        def push(v: Any) -> None:
            i = free.pop()
            objs[i] = v
            try_push(hh, i)

        def pop() -> Any:
            w = try_pop_v(hh)
            o = objs[w]
            objs[w] = None
            b = back
            b += (w,)
            return o

        return _pairs_loop(push, pop, None if shared_queue else lambda: lib.ftk_queue_free(h))
    return body


def _queue_cells_body(s: _QueueShared, _tid: int) -> Callable[[], None]:
    """One cell (a 1-element list) per slot, this thread's copy of the list
    of cells, this thread's own index list (a chunk of the shared pool; what
    it pops is released into it): a producer and a consumer of one item touch
    only that item's cell."""
    hh = ffi.cast("ftk_handle_t", s.h)
    with s.lock:
        n = len(s.pool) // 4
        mine = s.pool[-n:]
        del s.pool[-n:]
    free = list(mine)
    cells = list(s.cells)
    try_push = thread_copy(lib.ftk_queue_try_push)
    try_pop_v = thread_copy(lib.ftk_queue_try_pop_v)

    def push(v: Any) -> None:
        i = free.pop()
        cells[i][0] = v
        try_push(hh, i)

    def pop() -> Any:
        w = try_pop_v(hh)
        c = cells[w]
        o = c[0]
        c[0] = None
        f = free
        f += (w,)
        return o

    return _pairs_loop(push, pop)


# -- dict views: gets vs sets ------------------------------------------------------

N_DICT = 60_000


def _dict_setup() -> Any:
    d = ftkit.ConcurrentDict()
    for k in range(1024):
        d[k] = k
    return d


def _dict_body(set_every: int) -> Callable[[Any, int], Callable[[], None]]:
    def body(d: Any, tid: int) -> Callable[[], None]:
        v = d.local()
        get, put = v.get, v.__setitem__
        keys = list(range(1024))
        off = tid * 389

        def loop() -> None:
            for n in range(N_DICT):
                k = keys[(n + off) & 1023]
                if set_every and n % set_every == 0:
                    put(k, n)
                else:
                    get(k)
        return loop
    return body


def _dict_floor(d: Any, tid: int) -> Callable[[], None]:
    lookup = thread_copy(lib.ftk_map_lookup_v)
    h = call_handle(d._owner)
    hashes = [hash(k) for k in range(1024)]
    off = tid * 389

    def loop() -> None:
        for n in range(N_DICT):
            lookup(h, hashes[(n + off) & 1023])
    return loop


ROWS: list = [
    ("cffi function", "module global", lambda: None, _fn_body("global"), N_CALLS),
    ("cffi function", "one shared function object (cell)", lambda: _LAST, _fn_body("cell"),
     N_CALLS),
    ("cffi function", "a copy per thread (thread_copy)", lambda: None, _fn_body("copy"), N_CALLS),
    ("queue pair (model)", "C queue shared, keep-alive lists shared", _QueueShared,
     _queue_body(True, True), N_PAIRS),
    ("queue pair (model)", "C queue shared, lists per thread", _QueueShared,
     _queue_body(True, False), N_PAIRS),
    ("queue pair (model)", "C queue shared, index lists per thread, objects list shared",
     _QueueShared, _queue_body(True, False, True), N_PAIRS),
    ("queue pair (model)", "C queue shared, a cell per slot, index lists per thread",
     _QueueShared, _queue_cells_body, N_PAIRS),
    ("queue pair (model)", "C queue per thread, lists shared", _QueueShared,
     _queue_body(False, True), N_PAIRS),
    ("queue pair (model)", "C queue per thread, lists per thread", _QueueShared,
     _queue_body(False, False), N_PAIRS),
    ("dict views", "get only", _dict_setup, _dict_body(0), N_DICT),
    ("dict views", "1 set per 10 ops", _dict_setup, _dict_body(10), N_DICT),
    ("dict views", "50/50 get/set", _dict_setup, _dict_body(2), N_DICT),
    ("dict views", "bare ftk_map_lookup_v (floor)", _dict_setup, _dict_floor, N_DICT),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default=None, help="comma-separated (default 1,2,4..cpus)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", action="append", help="only these families")
    ap.add_argument("--md")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.threads:
        ks = [int(x) for x in args.threads.split(",")]
    else:
        n = os.cpu_count() or 1
        ks = sorted({1, *[2 ** i for i in range(1, 8) if 2 ** i <= n], n})
    from run import machine

    try:
        load = "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    head = f"{interpreter()} | {machine()} | {datetime.date.today()} | {load}"
    lines = [f"# Contention: {head}", ""]
    results = []
    fam = None
    for family, impl, setup, body, ops in ROWS:
        if args.only and family not in args.only:
            continue
        if family != fam:
            fam = family
            lines += ["", f"## {family}", "", "| variant | " + " | ".join(f"{k}T" for k in ks) + " |",
                      "|---|" + "---:|" * len(ks)]
            print("\n".join(lines[-5:]), flush=True)
        mops = {f"{k}T": max(run(k, setup, body, ops) for _ in range(max(1, args.repeat)))
                for k in ks}
        results.append({"family": family, "impl": impl, "mops": mops})
        lines.append(f"| {impl} | " + " | ".join(f"{v:.2f}" for v in mops.values()) + " |")
        print(lines[-1], flush=True)
    if args.md:
        with open(args.md, "w") as f:
            f.write("\n".join(lines) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": {"interpreter": interpreter(), "machine": machine(), "load": load,
                                "threads": ks}, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
