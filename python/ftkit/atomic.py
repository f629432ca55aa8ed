"""AtomicInt64, AtomicFlag and AtomicReference over libftkit's atomics.

Hot methods (``incr``, ``decr``, ``get`` of AtomicInt64) are installed on each
instance as ``functools.partial`` objects bound to the cffi function and the
handle, so a call goes straight from the interpreter into C with no Python
frame in between (a frame would double the cost of the call). Subclasses
that override one of those methods keep their override: the fast path is only
installed for methods the subclass did not redefine.
"""
from __future__ import annotations

import types
from functools import partial
from typing import Any, Callable, Generic, TypeVar

from ._common import INT64_MAX, INT64_MIN, Native, as_int64, bind, lib, same
from ._keepalive import INDEX_MASK, SlotTable
from ._lib import ffi, raise_status

__all__ = ["AtomicInt64", "AtomicFlag", "AtomicReference"]

T = TypeVar("T")

_load = lib.ftk_int64_load_v
_store = lib.ftk_int64_store_v
_add = lib.ftk_int64_add_v
_fetch_add = lib.ftk_int64_fetch_add_v
_fetch_sub = lib.ftk_int64_fetch_sub_v
_fetch_and = lib.ftk_int64_fetch_and_v
_fetch_or = lib.ftk_int64_fetch_or_v
_fetch_xor = lib.ftk_int64_fetch_xor_v
_exchange = lib.ftk_int64_exchange_v
_cas = lib.ftk_int64_cas_v
_MASK = 2**64 - 1


def _wrap(v: int) -> int:
    """Python int -> int64 two's complement (what C stores)."""
    v &= _MASK
    return v - 2**64 if v > INT64_MAX else v


def _operand(x: Any) -> Any:
    """An int operand for a non-in-place operator, or None (NotImplemented)."""
    if type(x) is int:
        v = x
    elif isinstance(x, int):
        v = int(x)
    elif isinstance(x, AtomicInt64):
        return x.get()
    else:
        return None
    if v < INT64_MIN or v > INT64_MAX:
        raise OverflowError(f"operand {v} is out of the int64 range")
    return v


_FAST_NAMES = ("incr", "decr", "get")
_fast_ok: dict[type, tuple[str, ...]] = {}


def _fast_methods_for(cls: type) -> tuple[str, ...]:
    names = _fast_ok.get(cls)
    if names is None:
        names = tuple(n for n in _FAST_NAMES if getattr(cls, n) is getattr(AtomicInt64, n))
        _fast_ok[cls] = names
    return names


class AtomicInt64(Native):
    """A 64-bit signed integer whose every operation is atomic (seq_cst).

    >>> n = AtomicInt64(5)
    >>> n.incr()
    6
    >>> n += 10          # atomic read-modify-write, n stays an AtomicInt64
    >>> int(n), n.fetch_add(1), n.get()
    (16, 16, 17)

    Stored results (``incr``, ``add``, ``fetch_*``, in-place operators) wrap
    modulo 2**64 like C. Non-in-place operators (``n + 1``, ``10 - n``)
    return plain Python ints computed exactly from the current value.
    """

    __hash__ = None  # type: ignore[assignment]  # mutable, like list

    def __init__(self, value: int = 0) -> None:
        value = as_int64(value)
        self._own(lib.ftk_int64_new, lib.ftk_int64_free, value)

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """incr/decr/get as partials of the C calls (no Python frame), made by
        the calling thread over this object's handle copy and ``fn`` of the
        C functions (views: local(), with thread_copy)."""
        fast = _fast_methods_for(type(self))
        d = self.__dict__
        owner, h = d["_owner"], d["_h"]
        if "incr" in fast or "decr" in fast:
            add = fn(_add)
            if "incr" in fast:
                d["incr"] = bind(owner, add, h, 1)
            if "decr" in fast:
                d["decr"] = bind(owner, add, h, -1)
        if "get" in fast:
            d["get"] = bind(owner, fn(_load), h)


    # -- methods (the first three are replaced per instance by partials) ---
    def incr(self) -> int:
        """Add 1; return the new value."""
        return _add(self._h, 1)

    def decr(self) -> int:
        """Subtract 1; return the new value."""
        return _add(self._h, -1)

    def get(self) -> int:
        """The current value."""
        return _load(self._h)

    # A plain int goes straight to cffi (which raises OverflowError outside
    # int64). Anything else is checked by as_int64 first: cffi would accept
    # any object with __int__ (Decimal, Fraction) and truncate it silently.
    def set(self, value: int) -> None:
        """Store ``value``."""
        if type(value) is not int:
            value = as_int64(value)
        _store(self._h, value)

    def add(self, value: int) -> int:
        """Add ``value``; return the new value (wrapping)."""
        if type(value) is not int:
            value = as_int64(value)
        return _add(self._h, value)

    def fetch_add(self, value: int) -> int:
        """Add ``value``; return the old value."""
        if type(value) is not int:
            value = as_int64(value)
        return _fetch_add(self._h, value)

    def fetch_sub(self, value: int) -> int:
        """Subtract ``value``; return the old value."""
        if type(value) is not int:
            value = as_int64(value)
        return _fetch_sub(self._h, value)

    def fetch_and(self, value: int) -> int:
        """Bitwise-and with ``value``; return the old value."""
        if type(value) is not int:
            value = as_int64(value)
        return _fetch_and(self._h, value)

    def fetch_or(self, value: int) -> int:
        """Bitwise-or with ``value``; return the old value."""
        if type(value) is not int:
            value = as_int64(value)
        return _fetch_or(self._h, value)

    def fetch_xor(self, value: int) -> int:
        """Bitwise-xor with ``value``; return the old value."""
        if type(value) is not int:
            value = as_int64(value)
        return _fetch_xor(self._h, value)

    def exchange(self, value: int) -> int:
        """Store ``value``; return the old value."""
        if type(value) is not int:
            value = as_int64(value)
        return _exchange(self._h, value)

    def compare_exchange(self, expected: int, desired: int) -> bool:
        """If the value equals ``expected`` store ``desired``; True if it did."""
        if type(expected) is not int:
            expected = as_int64(expected, "expected")
        if type(desired) is not int:
            desired = as_int64(desired, "desired")
        return _cas(self._h, expected, desired) == 1

    def _fetch(self, fn: Callable[..., int], value: Any) -> int:
        """Status-style fetch-op (for the ops that can fail, like //)."""
        out = _OUT_PROTO()
        st = fn(self._h, as_int64(value, "operand"), out)
        if st:
            raise_status(st, "", type(self).__name__)
        return out[0]

    def _update(self, fn: Callable[[int], int]) -> None:
        """Atomically replace v by wrap(fn(v)) with a CAS loop."""
        h = self._h
        while True:
            old = _load(h)
            if _cas(h, old, _wrap(fn(old))):
                return

    # -- conversions -------------------------------------------------------
    def __int__(self) -> int:
        return _load(self._h)

    __index__ = __int__
    __trunc__ = __int__
    __floor__ = __int__
    __ceil__ = __int__

    def __round__(self, ndigits: int | None = None) -> int:
        return round(_load(self._h), ndigits) if ndigits is not None else _load(self._h)

    def __float__(self) -> float:
        return float(_load(self._h))

    def __bool__(self) -> bool:
        return _load(self._h) != 0

    def __format__(self, spec: str) -> str:
        return format(_load(self._h), spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_load(self._h)})"


    # -- comparisons -------------------------------------------------------
    def _cmp_value(self, other: Any) -> Any:
        if isinstance(other, (int, float)):
            return other
        if isinstance(other, AtomicInt64):
            return other.get()
        return None

    def __eq__(self, other: Any) -> Any:
        o = self._cmp_value(other)
        return NotImplemented if o is None else _load(self._h) == o

    def __ne__(self, other: Any) -> Any:
        o = self._cmp_value(other)
        return NotImplemented if o is None else _load(self._h) != o

    def __lt__(self, other: Any) -> Any:
        o = self._cmp_value(other)
        return NotImplemented if o is None else _load(self._h) < o

    def __le__(self, other: Any) -> Any:
        o = self._cmp_value(other)
        return NotImplemented if o is None else _load(self._h) <= o

    def __gt__(self, other: Any) -> Any:
        o = self._cmp_value(other)
        return NotImplemented if o is None else _load(self._h) > o

    def __ge__(self, other: Any) -> Any:
        o = self._cmp_value(other)
        return NotImplemented if o is None else _load(self._h) >= o

    # -- unary -------------------------------------------------------------
    def __neg__(self) -> int:
        return -_load(self._h)

    def __pos__(self) -> int:
        return _load(self._h)

    def __abs__(self) -> int:
        return abs(_load(self._h))

    def __invert__(self) -> int:
        return ~_load(self._h)

    # -- in-place: atomic read-modify-writes, return self ------------------
    def __iadd__(self, other: Any) -> AtomicInt64:
        self.fetch_add(other)
        return self

    def __isub__(self, other: Any) -> AtomicInt64:
        self.fetch_sub(other)
        return self

    def __imul__(self, other: Any) -> AtomicInt64:
        self._fetch(lib.ftk_int64_fetch_mul, other)
        return self

    def __ifloordiv__(self, other: Any) -> AtomicInt64:
        if as_int64(other, "operand") == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        self._fetch(lib.ftk_int64_fetch_floordiv, other)
        return self

    def __iand__(self, other: Any) -> AtomicInt64:
        self.fetch_and(other)
        return self

    def __ior__(self, other: Any) -> AtomicInt64:
        self.fetch_or(other)
        return self

    def __ixor__(self, other: Any) -> AtomicInt64:
        self.fetch_xor(other)
        return self

    def __imod__(self, other: Any) -> AtomicInt64:
        o = as_int64(other, "operand")
        if o == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        self._update(lambda v: v % o)
        return self

    def __ilshift__(self, other: Any) -> AtomicInt64:
        o = as_int64(other, "operand")
        if o < 0:
            raise ValueError("negative shift count")
        self._update(lambda v: v << min(o, 64))
        return self

    def __irshift__(self, other: Any) -> AtomicInt64:
        o = as_int64(other, "operand")
        if o < 0:
            raise ValueError("negative shift count")
        self._update(lambda v: v >> min(o, 64))
        return self


def _binary(op: Callable[[int, int], Any], name: str) -> tuple[Any, Any]:
    def forward(self: AtomicInt64, other: Any) -> Any:
        o = _operand(other)
        return NotImplemented if o is None else op(_load(self._h), o)

    def reflected(self: AtomicInt64, other: Any) -> Any:
        o = _operand(other)
        return NotImplemented if o is None else op(o, _load(self._h))

    forward.__name__ = f"__{name}__"
    reflected.__name__ = f"__r{name}__"
    forward.__qualname__ = f"AtomicInt64.__{name}__"
    reflected.__qualname__ = f"AtomicInt64.__r{name}__"
    return forward, reflected


def _install_binary_operators() -> None:
    import operator

    for name, op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                     ("floordiv", operator.floordiv), ("mod", operator.mod),
                     ("truediv", operator.truediv), ("divmod", divmod),
                     ("pow", operator.pow), ("and", operator.and_), ("or", operator.or_),
                     ("xor", operator.xor), ("lshift", operator.lshift),
                     ("rshift", operator.rshift)]:
        fwd, rev = _binary(op, name)
        setattr(AtomicInt64, f"__{name}__", fwd)
        setattr(AtomicInt64, f"__r{name}__", rev)


_install_binary_operators()


_OUT_PROTO = partial(ffi.new, "int64_t *")


class AtomicFlag(Native):
    """A boolean flag with atomic (seq_cst) operations.

    >>> f = AtomicFlag()
    >>> f.test_and_set(), f.test_and_set(), bool(f)
    (False, True, True)

    Like ft_utils' flag it compares by identity and is hashable (a flag is a
    mutable cell, not a bool: compare ``f.get()`` or ``bool(f)`` for the value).
    """

    # set per instance by _install_fast_paths (a view's are its thread's copies)
    _f_load: Any
    _f_store: Any
    _f_exchange: Any
    _f_cas: Any

    def __init__(self, value: bool = False) -> None:
        self._own(lib.ftk_flag_new, lib.ftk_flag_free, 1 if value else 0)

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """The C functions the methods call, as instance attributes: the
        module's (``same``) or, in a view, this thread's copies."""
        d = self.__dict__
        d["_f_load"] = fn(lib.ftk_flag_load_v)
        d["_f_store"] = fn(lib.ftk_flag_store_v)
        d["_f_exchange"] = fn(lib.ftk_flag_exchange_v)
        d["_f_cas"] = fn(lib.ftk_flag_cas_v)

    def set(self, value: bool) -> None:
        """Store ``bool(value)``."""
        self._f_store(self._h, 1 if value else 0)

    def get(self) -> bool:
        return self._f_load(self._h) != 0

    def __bool__(self) -> bool:
        return self._f_load(self._h) != 0

    def test_and_set(self) -> bool:
        """Set the flag; return its previous value."""
        return self._f_exchange(self._h, 1) != 0

    def clear(self) -> None:
        self._f_store(self._h, 0)

    def compare_exchange(self, expected: bool, desired: bool) -> bool:
        """If the flag equals ``expected`` set it to ``desired``; True if it did."""
        return self._f_cas(self._h, 1 if expected else 0, 1 if desired else 0) != 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get()})"



_ref_load = lib.ftk_ref_load_v
_ref_exchange = lib.ftk_ref_exchange_v
_ref_cas = lib.ftk_ref_cas_v


class AtomicReference(Native, Generic[T]):
    """A reference to any Python object, replaced atomically.

    ``compare_exchange`` compares by identity (``is``), like a C pointer CAS.
    Objects replaced or exchanged out are released at once.

    >>> r = AtomicReference("a")
    >>> old = r.get()
    >>> r.compare_exchange(old, "b"), r.compare_exchange(old, "c"), r.get()
    (True, False, 'b')

    The C side holds one word (0 for None); the object lives in this
    reference's own versioned SlotTable (see ftkit._keepalive). ``get`` does
    the table's read protocol inline (a helper call per read would cost as
    much as the read); the writers go through the table's methods.

    Like ft_utils' reference it compares by identity and is hashable.
    """

    __class_getitem__: Any = classmethod(types.GenericAlias)
    # set per instance by _install_fast_paths (a view's are its thread's copies)
    _f_load: Any
    _f_exchange: Any
    _f_cas: Any
    _c_mask: int

    def __init__(self, obj: T | None = None, *extra: Any) -> None:
        if extra:
            # ft_utils' message (the generic one would name __init__'s arity).
            raise TypeError(f"{type(self).__name__}() takes zero or one argument")
        self._slots = SlotTable(versioned=True, capacity=4)
        word = 0 if obj is None else self._slots.put(obj)
        self._own(lib.ftk_ref_new, lib.ftk_ref_free, word)

    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """The C functions and the word mask the methods use, as instance
        attributes: the module's (``same``) or, in a view, this thread's
        copies (see ftkit._common.thread_copy)."""
        d = self.__dict__
        d["_f_load"] = fn(_ref_load)
        d["_f_exchange"] = fn(_ref_exchange)
        d["_f_cas"] = fn(_ref_cas)
        d["_c_mask"] = fn(INDEX_MASK)

    def get(self) -> T | None:
        """The current object."""
        h = self._h
        slots = self._slots
        while True:
            w = self._f_load(h)
            if w == 0:
                return None
            i = w & self._c_mask
            obj = slots.objs[i]
            if slots.words[i] == w:
                return obj
            # released between our load and our read: load again

    def _put(self, obj: Any) -> int:
        if obj is None:
            return 0
        slots = self._slots
        try:
            i = slots.free.pop()
        except IndexError:
            i = slots.take_index()
        slots.objs[i] = obj
        return slots.words[i]

    def set(self, obj: T | None) -> None:
        """Store ``obj``; the previous object is released."""
        old = self._f_exchange(self._h, self._put(obj))
        if old:
            self._slots.release(old)

    def exchange(self, obj: T | None) -> T | None:
        """Store ``obj``; return the previous object."""
        old = self._f_exchange(self._h, self._put(obj))
        return self._slots.release(old) if old else None

    def compare_exchange(self, expected: Any, obj: T | None) -> bool:
        """If the current object *is* ``expected`` store ``obj``; True if it did."""
        h = self._h
        slots = self._slots
        while True:
            w = self._f_load(h)
            if w == 0:
                cur = None
            else:
                i = w & self._c_mask
                cur = slots.objs[i]
                if slots.words[i] != w:
                    continue  # released under us: load again
            if cur is not expected:
                return False
            new = self._put(obj)
            if self._f_cas(h, w, new):
                if w:
                    slots.release(w)
                return True
            if new:
                slots.release(new)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get()!r})"


