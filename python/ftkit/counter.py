"""AtomicCounter: a striped counter for hot, contended increments.

``incr``, ``decr`` and ``add`` touch only the calling thread's cell in C (a
cache line no other thread writes), so threads counting at once do not
contend; ``get()`` sums the cells. The counting methods are installed on
each instance as ``functools.partial`` objects over the cffi function and
the handle (one C call, no Python frame). ``counter.local()`` gives a thread
its own callables and handle object (``_common.local_view``, as for the
other primitives), so that on free-threaded builds the threads do not
contend on shared Python reference counts either.

Guarantees (the C contract in ``ftkit/counter.h``):

* ``get()`` is exact when no add is in flight: it counts every add that
  happened before it (threads that were joined, or that handed over through
  a lock, queue, event...).
* While adds of one sign are in flight, ``get()`` lies between the totals
  before and after it; for an increment-only counter, successive ``get()``
  calls on one thread never decrease.
* ``exchange(v)``/``reset()``/``set(v)`` replace the total; an add running
  at the same time is counted either in the value returned or in the new
  total, exactly once. They are serialised with each other, and ``get()``
  never sees half of one.
* Adds order nothing else (they are not a way to publish other data).
* The total wraps modulo 2**64 like C int64 arithmetic.
"""
from __future__ import annotations

from typing import Any, Callable

from ._common import Native, as_int64, bind, lib, release_handle, same
from ._lib import BadHandleError, ffi, raise_status, status_error

__all__ = ["AtomicCounter"]

_add = lib.ftk_counter_add_v
_get_v = lib.ftk_counter_get_v
_get = lib.ftk_counter_get
_exchange = lib.ftk_counter_exchange
_last_status = lib.ftk_last_status
_EBADHANDLE = lib.FTK_EBADHANDLE
_I64 = "int64_t *"
_NAME = "AtomicCounter"


def _closed(*args: Any) -> Any:
    raise status_error(_EBADHANDLE, "", _NAME)


class AtomicCounter(Native):
    """A counter for hot, contended increments.

    >>> c = AtomicCounter()
    >>> c.incr(); c.add(10); c.decr()
    >>> c.get(), int(c)
    (10, 10)
    >>> c.exchange(100), c.reset(), c.get()
    (10, 100, 0)

    ``incr``/``decr``/``add`` touch only the calling thread's C cell (they
    return None); ``get()`` sums the cells. On many threads, give each
    thread its own view, ``mine = c.local()``, made by the thread that uses
    it. Not picklable (it owns native state).
    """

    _h: Any
    _owner: Any

    def __init__(self, value: int = 0) -> None:
        value = as_int64(value)
        self._own(lib.ftk_counter_new, lib.ftk_counter_free, value)

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """incr/decr as partials over this instance's own handle cdata and
        ``fn`` of the C function (also run by local_view for a view, with
        thread_copy). Subclass overrides are kept."""
        d = self.__dict__
        owner, h = d["_owner"], d["_h"]
        cls = type(self)
        add = fn(_add)
        if cls.incr is AtomicCounter.incr:
            d["incr"] = bind(owner, add, h, 1)
        if cls.decr is AtomicCounter.decr:
            d["decr"] = bind(owner, add, h, -1)


    # -- counting (incr/decr are replaced per instance by partials) ---------
    def incr(self) -> None:
        """Add 1 (to the calling thread's cell). Returns None: the total
        would need a sum over every cell; call ``get()`` for it."""
        _add(self._h, 1)

    def decr(self) -> None:
        """Subtract 1 (to the calling thread's cell)."""
        _add(self._h, -1)

    def add(self, n: int) -> None:
        """Add ``n`` (an int in the int64 range, else TypeError/OverflowError)
        to the calling thread's cell; wraps modulo 2**64."""
        if type(n) is not int:
            n = as_int64(n, "n")  # cffi would truncate Decimal/Fraction silently
        _add(self._h, n)

    def __iadd__(self, n: int) -> "AtomicCounter":
        self.add(n)
        return self

    def __isub__(self, n: int) -> "AtomicCounter":
        if type(n) is not int:
            n = as_int64(n, "n")
        if n == -(2**63):
            raise OverflowError("n -2**63 cannot be negated in int64")
        _add(self._h, -n)
        return self

    # -- reading and replacing ---------------------------------------------
    def get(self) -> int:
        """The total: exact when no add is in flight (see the module doc)."""
        v = _get_v(self._h)
        # 0 is also what a bad handle gives. The thread's last failure status
        # (sticky) is cheap to read; only when it is set, ask again with a
        # status-style call to tell a closed counter from a zero total.
        if v == 0 and _last_status():
            out = ffi.new(_I64)
            st = _get(self._h, out)
            if st:
                raise_status(st, "", _NAME)
            v = out[0]
        return v

    def exchange(self, value: int) -> int:
        """Replace the total by ``value``; return the total it replaced. An
        add running meanwhile lands in exactly one of the two."""
        value = as_int64(value)
        out = ffi.new(_I64)
        st = _exchange(self._h, value, out)
        if st:
            raise_status(st, "", _NAME)
        return out[0]

    def set(self, value: int) -> None:
        """Replace the total by ``value`` (``exchange`` without the result)."""
        self.exchange(value)

    def reset(self) -> int:
        """Set the total to 0 and return what it was ("read and reset"):
        nothing added meanwhile is lost or counted twice."""
        return self.exchange(0)

    def close(self) -> None:
        """Free the C counter now instead of when the last reference goes
        (closing a view closes the counter). Afterwards every method of this
        object raises BadHandleError (a ValueError). Callables taken earlier
        (``inc = c.incr``) and other views then do nothing when they count
        (``get`` on them raises); closing while other threads count is a bug
        in the caller (memory safe, but those adds are lost)."""
        d = self.__dict__
        d["incr"] = d["decr"] = d["add"] = _closed
        release_handle(d["_owner"])  # ftk_counter_free now; later calls: FTK_EBADHANDLE

    def __int__(self) -> int:
        return self.get()

    def __repr__(self) -> str:
        try:
            return f"{type(self).__name__}({self.get()})"
        except BadHandleError:
            return f"<{type(self).__name__} (closed)>"

