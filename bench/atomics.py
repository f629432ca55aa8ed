"""Atomic counter and reference workloads.

For every ftkit operation the raw cffi call of the same C function (same
signature, arguments from locals) runs beside it, so the wrapper's own
overhead is visible; ``threading.Lock`` + int and the peers run beside that.
"""
from __future__ import annotations

from _harness import Case, try_import


def _ftkit_shared() -> dict:
    import ftkit
    from ftkit._lib import lib

    x = ftkit.AtomicInt64()
    r = ftkit.AtomicReference(None)
    return {"x": x, "h": x._h, "lib": lib, "r": r, "rh": r._h, "obj": object()}


def _int_handle_shared() -> dict:
    """The same load through a binding that declares the handle as uint64_t:
    the measurement behind making ftk_handle_t pointer-typed (design.md 2)."""
    import cffi

    import ftkit
    from ftkit._lib import ffi as ftk_ffi

    ffi = cffi.FFI()
    ffi.cdef("int64_t ftk_int64_load_v(uint64_t h);")
    lib = ffi.dlopen(ftkit.library_path)
    x = ftkit.AtomicInt64()
    return {"x": x, "hu": int(ftk_ffi.cast("uintptr_t", x._h)), "lib_u64": lib}


def _lock_shared() -> dict:
    import threading

    class Box:
        __slots__ = ("lock", "value")

        def __init__(self):
            self.lock = threading.Lock()
            self.value = 0

    return {"box": Box()}


def cases() -> list[Case]:
    F = "atomics"
    out = [
        Case(F, "incr", "ftkit x.incr()", "x.incr()", shared=_ftkit_shared),
        Case(F, "incr", "ftkit incr() bound once (incr = x.incr)", "incr()", "incr = x.incr",
             shared=_ftkit_shared),
        Case(F, "incr", "ftkit raw cffi add(h, 1)", "add(h, 1)", "add = lib.ftk_int64_add_v",
             shared=_ftkit_shared),
        Case(F, "incr", "ftkit raw cffi lib.ftk_int64_add_v(h, 1)", "lib.ftk_int64_add_v(h, 1)",
             shared=_ftkit_shared),
        Case(F, "incr", "ftkit raw cffi, per-thread handle", "add(mine, 1)",
             "add = lib.ftk_int64_add_v; from ftkit._lib import ffi; "
             "mine = ffi.cast('ftk_handle_t', int(ffi.cast('uintptr_t', h)))",
             shared=_ftkit_shared,
             note="same call, but each thread owns its handle cdata (no shared refcount)"),
        Case(F, "incr", "stdlib Lock + int", "with box.lock: box.value += 1",
             shared=_lock_shared),
        Case(F, "incr", "stdlib Lock + int, lock bound once", "with lock: box.value += 1",
             "lock = box.lock", shared=_lock_shared),
        Case(F, "get", "ftkit x.get()", "x.get()", shared=_ftkit_shared),
        Case(F, "get", "ftkit raw cffi load(h)", "load(h)", "load = lib.ftk_int64_load_v",
             shared=_ftkit_shared),
        Case(F, "get", "ftkit raw cffi load(h), handle declared uint64_t", "load(hu)",
             "load = lib_u64.ftk_int64_load_v", shared=_int_handle_shared,
             note="why ftk_handle_t is a pointer type"),
        Case(F, "get", "stdlib Lock + int", "with box.lock: box.value", shared=_lock_shared),
        Case(F, "set", "ftkit x.set(5)", "x.set(5)", shared=_ftkit_shared),
        Case(F, "set", "ftkit raw cffi store(h, 5)", "store(h, 5)",
             "store = lib.ftk_int64_store_v", shared=_ftkit_shared),
        Case(F, "set", "stdlib Lock + int", "with box.lock: box.value = 5", shared=_lock_shared),
        Case(F, "exchange", "ftkit x.exchange(5)", "x.exchange(5)", shared=_ftkit_shared),
        Case(F, "exchange", "ftkit raw cffi exchange(h, 5)", "xchg(h, 5)",
             "xchg = lib.ftk_int64_exchange_v", shared=_ftkit_shared),
        Case(F, "compare_exchange", "ftkit x.compare_exchange(0, 0)",
             "x.compare_exchange(0, 0)", shared=_ftkit_shared),
        Case(F, "compare_exchange", "ftkit raw cffi cas(h, 0, 0)", "cas(h, 0, 0)",
             "cas = lib.ftk_int64_cas_v", shared=_ftkit_shared),
        Case(F, "ref exchange", "ftkit AtomicReference.exchange", "r.exchange(obj)",
             shared=_ftkit_shared),
        Case(F, "ref get", "ftkit AtomicReference.get", "r.get()", shared=_ftkit_shared),
    ]
    ft_utils = try_import("ft_utils.concurrency")
    if ft_utils is not None:
        def fts() -> dict:
            return {"x": ft_utils.AtomicInt64(0), "r": ft_utils.AtomicReference(None),
                    "obj": object()}
        out += [Case(F, "incr", "ft_utils", "x.incr()", shared=fts),
                Case(F, "get", "ft_utils", "x.get()", shared=fts),
                Case(F, "set", "ft_utils", "x.set(5)", shared=fts),
                Case(F, "ref exchange", "ft_utils AtomicReference.exchange",
                     "r.exchange(obj)", shared=fts)]
    cereggii = try_import("cereggii")
    if cereggii is not None:
        def cgs() -> dict:
            return {"x": cereggii.AtomicInt64(0)}
        out += [Case(F, "incr", "cereggii", "x += 1", "x = x_", shared=lambda: {"x_": cereggii.AtomicInt64(0)},
                     note="cereggii has no incr(); in-place add"),
                Case(F, "get", "cereggii", "x.get()", shared=cgs)]
    return out
