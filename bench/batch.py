"""BatchExecutor workloads: load() per item at batch sizes 1, 16 and 64.

Rows: ftkit BatchExecutor (the shared instance's ``load`` closure: one C
claim per value; and a ``local()`` view's prefetching ``load``: one C claim
per ``min(size, VIEW_CHUNK)`` values, served from the view's own list), ft_utils' BatchExecutor (ft_utils.local) where installed, a stdlib
equivalent (a list refilled under a threading.Lock), and the raw cffi floor:
one ``ftk_batch_load_v`` call per item (on an executor whose refill is held
by another thread, so the call returns at once: the FFI crossing and the
claim check, without the keep-alive or the refill).

The source is ``object`` (a new object per value, so every value's
reference count is paid as in real use); per-item figures include the
amortised refill (``size`` source calls per batch). Multi-thread rows share
one executor (the contended case the class exists for).
"""
from __future__ import annotations

import threading

from _harness import Case, Result, run_case, try_import

SIZES = (1, 16, 64)


class StdBatch:
    """The stdlib way: a list refilled under a lock, one value per load."""

    def __init__(self, source, size):
        self.source, self.size = source, size
        self.lock = threading.Lock()
        self.buf: list = []

    def load(self):
        with self.lock:
            buf = self.buf
            if not buf:
                src = self.source
                buf.extend([src() for _ in range(self.size)])
                buf.reverse()
            return buf.pop()


def _floor_shared() -> dict:
    import ftkit
    from ftkit._lib import lib

    ex = ftkit.BatchExecutor(object, 4)
    held = threading.Event()

    def hold():  # take the refill role in another thread and keep it
        lib.ftk_batch_load_v(ex._h)
        held.set()

    t = threading.Thread(target=hold)
    t.start()
    t.join()
    held.wait()
    return {"lv": lib.ftk_batch_load_v, "h": ex._h, "ex": ex}


def _shared(size: int):
    def make() -> dict:
        import ftkit

        d = {"ex": ftkit.BatchExecutor(object, size), "std": StdBatch(object, size)}
        ftl = try_import("ft_utils.local")
        if ftl is not None:
            d["fex"] = ftl.BatchExecutor(object, size)
        return d

    return make


def cases(threads: tuple = (1, 2)) -> list[Case]:
    F = "batch"
    ftl = try_import("ft_utils.local")
    out = [Case(F, "load (floor)", "ftkit raw cffi ftk_batch_load_v", "lv(h)",
                shared=_floor_shared, threads=threads)]
    for n in SIZES:
        name = f"load, batch {n}"
        out += [
            Case(F, name, "ftkit BatchExecutor", "ld()", "ld = ex.load", shared=_shared(n),
                 threads=threads),
            Case(F, name, "ftkit view load (prefetch), local()", "ld()", "ld = ex.local().load",
                 shared=_shared(n), threads=threads),
            Case(F, name, "stdlib Lock + list refill", "ld()", "ld = std.load",
                 shared=_shared(n), threads=threads),
        ]
        if ftl is not None:
            out.append(Case(F, name, "ft_utils BatchExecutor", "ld()", "ld = fex.load",
                            shared=_shared(n), threads=threads))
    return out


def extra(repeat: int = 3, scale: float = 1.0) -> list[Result]:
    """The 4-thread rows (run.py's table has 1T and 2T columns)."""
    out = []
    for case in cases(threads=(4,)):
        if "batch 64" in case.name or "floor" in case.name:
            r = run_case(case, repeat=repeat, scale=scale)
            r.name += ", 4 threads"
            out.append(r)
    return out
