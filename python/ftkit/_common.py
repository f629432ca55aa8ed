"""Helpers shared by the wrapper classes (argument checks, pickling refusal)."""
from __future__ import annotations

from functools import partial
from typing import Any, NoReturn, TypeVar

from ._lib import ffi, lib, raise_status

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def as_int64(value: Any, what: str = "value") -> int:
    """``value`` as a Python int within int64, else TypeError/OverflowError.

    bool and int subclasses are accepted; floats, strings and None are not.
    """
    if type(value) is not int:
        if not isinstance(value, int):
            index = getattr(type(value), "__index__", None)
            if index is None:
                raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
            value = index(value)
        value = int(value)
    if value < INT64_MIN or value > INT64_MAX:
        raise OverflowError(f"{what} {value} is out of the int64 range")
    return value


def new_handle(fn: Any, *args: Any) -> Any:
    """Call a ``ftk_*_new(args..., ftk_handle_t *out)`` and return the handle
    (not owned: the caller frees it)."""
    out = ffi.new("ftk_handle_t *")
    st = fn(*args, out)
    if st:
        raise_status(st)
    return out[0]


def owned_handle(new: Any, free: Any, *args: Any) -> Any:
    """The one way a Python object owns a libftkit handle.

    Returns the new handle as an *owner* cdata that frees it
    (``free(handle)``) when the last reference to it goes. Whatever must keep
    the C object alive holds the owner: the object, and every fast-path
    callable bound to the handle (``incr = counter.incr``, ``pop = q.pop``:
    see ``bind``), so such a callable keeps the C object alive exactly as a
    bound method keeps its instance alive. ``release_handle`` frees it
    earlier (close()). Calls themselves use ``call_handle(owner)``.
    """
    return ffi.gc(new_handle(new, *args), free)


def call_handle(owner: Any) -> Any:
    """A plain cdata of the same handle, for the calls. cffi checks a plain
    pointer cdata faster than the owner's subtype (bench: about 120
    instructions, 4 %, per call; `valgrind --tool=callgrind` on
    ``partial(lib.ftk_int64_add_v, h, 1)()``); it owns nothing, so whatever
    holds it must also hold the owner."""
    return ffi.cast("ftk_handle_t", owner)


def bind(owner: Any, fn: Any, *args: Any) -> Any:
    """``functools.partial(fn, *args)`` that also keeps ``owner`` alive (as
    an attribute: the call path never reads it). The one fast-path scheme:
    no Python frame of its own, no reference to the Python object (no
    cycle), and each thread can make its own (views)."""
    p = partial(fn, *args)
    p._owner = owner  # type: ignore[attr-defined]
    return p


def same(fn: Any) -> Any:
    """The cffi function itself: what an object's own fast paths call."""
    return fn


def thread_copy(x: Any) -> Any:
    """``x`` as an object made by the calling thread: a cffi function as a
    new function cdata of the same C function (calls cost the same), an int
    as a new int of the same value (small ints are immortal and come back
    as they are).

    Why: on free-threaded CPython (3.13t) every load of an object another
    thread made (a global, a closure cell, even a constant of a function's
    code) is an atomic reference-count update on a line all threads share.
    Measured with two threads each calling a closure over
    ``ftk_last_status`` (``bench/contention.py``, family "cffi function",
    2-core VM, bench/results/contention-3.13t.md): 1 -> 2 threads 9.0 ->
    13.8 Mops/s through the module's function object, 9.1 -> 14.4 through
    one shared object in a cell, 9.2 -> 18.2 through a copy per thread. Views (``local_view``) build their fast paths over
    these copies; an object's own fast paths use ``same``."""
    if type(x) is int:
        return int(str(x))  # a new object (int(x) would return x itself)
    return ffi.cast(ffi.typeof(x), x)


def local_view(obj: Any) -> Any:
    """``obj.local()``: the thread-owned view of an ftkit object.

    On free-threaded CPython an object is reference-counted cheaply only by
    the thread that created it; every other thread pays an atomic update of
    a shared line each time it loads or calls it (docs/design.md, "Scaling").
    A view is a new instance of the object's class, made by the calling
    thread, bound to the same C object and keep-alive state: its own plain
    handle copy (``call_handle``) and its own fast-path callables (the
    class's ``_install_fast_paths(thread_copy)``, if any: closures over
    this thread's copies of the C functions they call), so a hot loop in
    that thread touches no Python object another thread made except shared
    containers' lists. Same methods, same semantics, same data: a view of a queue pops
    what the queue holds, closing a view closes the object. Used from
    another thread a view stays correct, only not thread-owned.
    """
    cls: Any = type(obj)
    view = cls.__new__(cls)
    view.__dict__.update(obj.__dict__)  # shared state; fast paths rebuilt below
    view.__dict__["_h"] = call_handle(obj.__dict__["_owner"])
    install = getattr(view, "_install_fast_paths", None)
    if install is not None:
        install(thread_copy)
    return view


def release_handle(owner: Any) -> None:
    """Free an owned handle now (idempotent; the collector will not free it
    again). Later calls with it get FTK_EBADHANDLE (BadHandleError). Callers
    serialise this per handle (cffi's release is not atomic)."""
    ffi.release(owner)


def refuse_pickle(self: Any, protocol: int = 2) -> NoReturn:
    raise TypeError(
        f"cannot pickle {type(self).__name__!r} object: it owns native "
        "concurrency state that cannot be copied across processes"
    )


_N = TypeVar("_N", bound="Native")


class Native:
    """The one base of every class whose instances own a libftkit handle.

    ``_own(new, free, *args)`` creates the C object and stores its owner
    (``owned_handle``: freed when the last holder goes) as ``_owner`` and a
    plain copy for the calls (``call_handle``) as ``_h``, then installs the
    class's per-instance fast paths (``_install_fast_paths(fn=same)``, if
    any: ``fn`` maps each cffi function a fast path calls to the function
    object it captures, ``same`` here, ``thread_copy`` in views);
    ``local()`` is the thread-owned view (``local_view``); pickling is
    refused. Subclasses keep a ``__dict__`` (views copy it; fast paths live
    in it) and support weak references. What ``close()`` means differs per
    family (waking waiters, releasing held objects), so each class that
    offers it defines it, ending with ``release_handle(self._owner)``.
    """

    __slots__ = ()  # layout-neutral: subclasses get __dict__ and __weakref__
    _owner: Any
    _h: Any

    def _own(self, new: Any, free: Any, *args: Any) -> None:
        d = self.__dict__
        d["_owner"] = owner = owned_handle(new, free, *args)
        d["_h"] = call_handle(owner)
        install = getattr(self, "_install_fast_paths", None)
        if install is not None:
            install()

    def local(self: _N) -> _N:
        """A thread-owned view of this object (``local_view``): call it once
        in each thread that uses the object and use the view there; the hot
        paths then touch only objects that thread made, and scale. Same
        methods, same data; used from another thread a view is still
        correct, only not thread-owned."""
        return local_view(self)

    __reduce_ex__ = refuse_pickle  # type: ignore[assignment]


__all__ = ["as_int64", "bind", "call_handle", "local_view", "same", "thread_copy", "new_handle", "owned_handle", "release_handle",
           "refuse_pickle", "lib", "ffi", "INT64_MIN", "INT64_MAX", "Native"]
