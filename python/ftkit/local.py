"""LocalWrapper: a proxy meant to be used inside one thread.

On free-threaded CPython every object touched by several threads pays for
atomic reference counting on a shared cache line. Wrapping a shared object in
a LocalWrapper created by the thread that uses it gives that thread an object
of its own to pass around (the wrapper's reference count is thread-local), and
the wrapper forwards everything to ``.wrapped``.

Forwarded: attribute access, item access, ``len``, ``in``, iteration and
``next()``, calls, ``str``/``repr``/``hash``/``bool``/``format``, comparisons,
the full number protocol (reflected operators too), the buffer protocol
(``memoryview(w)`` on Python 3.12+) and the context-manager protocol.
In-place operators rebind ``.wrapped`` to the result and return the wrapper;
plain operators (``/`` and ``//`` included) return plain results and never
change the wrapper.

For an ftkit object (``_common.Native``: AtomicInt64, ConcurrentDict,
ConcurrentQueue, the locks...) the wrapper also makes the object's
thread-owned view (``x.local()``) in the thread that creates the wrapper and
sends method calls, item access, ``len``, ``in``, iteration, calls and
``with`` through it, so ``LocalWrapper(x)``, ft_utils' idiom, scales like
``x.local()``; ``.wrapped`` is still ``x``, and comparisons, hashing,
conversions and operators use ``x`` itself (identity-compared objects stay
equal to their wrapper). Attributes set or deleted through the wrapper go to
both.
"""
from __future__ import annotations

import operator
from typing import Any, Generic, TypeVar

from ._common import Native, refuse_pickle

__all__ = ["LocalWrapper", "BatchExecutor"]

T = TypeVar("T")
_set = object.__setattr__


def _fast_of(obj: Any) -> Any:
    """What calls go through: an ftkit object's thread-owned view, made by
    the calling thread, or the object itself."""
    return obj.local() if isinstance(obj, Native) else obj


class LocalWrapper(Generic[T]):
    __slots__ = ("_wrapped", "_fast", "__weakref__")

    def __init__(self, wrapped: T) -> None:
        _set(self, "_wrapped", wrapped)
        _set(self, "_fast", _fast_of(wrapped))

    def _rebind(self, obj: Any) -> None:
        """An in-place operator's result becomes the wrapped object (and its
        view, unless it is the same object)."""
        if obj is not self._wrapped:
            _set(self, "_fast", _fast_of(obj))
            _set(self, "_wrapped", obj)

    @property
    def wrapped(self) -> T:
        """The wrapped object (read-only; in-place operators rebind it)."""
        return self._wrapped

    # -- attributes ------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self._fast, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("wrapped", "_wrapped", "_fast"):
            raise AttributeError("LocalWrapper.wrapped is read-only")
        setattr(self._wrapped, name, value)
        if self._fast is not self._wrapped:
            setattr(self._fast, name, value)

    def __delattr__(self, name: str) -> None:
        if name in ("wrapped", "_wrapped", "_fast"):
            raise AttributeError("LocalWrapper.wrapped is read-only")
        delattr(self._wrapped, name)
        if self._fast is not self._wrapped:
            try:
                delattr(self._fast, name)
            except AttributeError:
                pass

    def __dir__(self) -> list[str]:
        return dir(self._wrapped)

    # -- containers ------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        return self._fast[key]  # type: ignore[index]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._fast[key] = value  # type: ignore[index]

    def __delitem__(self, key: Any) -> None:
        del self._fast[key]  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._fast)  # type: ignore[arg-type]

    def __contains__(self, item: Any) -> bool:
        return item in self._fast  # type: ignore[operator]

    def __iter__(self) -> Any:
        return iter(self._fast)  # type: ignore[call-overload]

    def __next__(self) -> Any:
        return next(self._fast)  # type: ignore[call-overload]

    def __reversed__(self) -> Any:
        return reversed(self._fast)  # type: ignore[call-overload]

    # -- calls, conversions -------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fast(*args, **kwargs)  # type: ignore[operator]

    def __str__(self) -> str:
        return str(self._wrapped)

    def __repr__(self) -> str:
        # ft_utils' form; the angle brackets say this is not an expression
        # that rebuilds the object.
        return f"<{type(self).__name__}: {self._wrapped!r}>"

    def __format__(self, spec: str) -> str:
        return format(self._wrapped, spec)

    def __hash__(self) -> int:
        return hash(self._wrapped)

    def __bool__(self) -> bool:
        return bool(self._wrapped)

    def __bytes__(self) -> bytes:
        return bytes(self._wrapped)  # type: ignore[call-overload]

    def __int__(self) -> int:
        return int(self._wrapped)  # type: ignore[call-overload]

    def __float__(self) -> float:
        return float(self._wrapped)  # type: ignore[arg-type]

    def __complex__(self) -> complex:
        return complex(self._wrapped)  # type: ignore[arg-type]

    def __index__(self) -> int:
        return operator.index(self._wrapped)  # type: ignore[arg-type]

    def __round__(self, ndigits: Any = None) -> Any:
        if ndigits is None:
            return round(self._wrapped)  # type: ignore[call-overload]
        return round(self._wrapped, ndigits)  # type: ignore[call-overload]

    def __trunc__(self) -> Any:
        import math

        return math.trunc(self._wrapped)  # type: ignore[arg-type]

    def __floor__(self) -> Any:
        import math

        return math.floor(self._wrapped)  # type: ignore[arg-type]

    def __ceil__(self) -> Any:
        import math

        return math.ceil(self._wrapped)  # type: ignore[arg-type]

    def __buffer__(self, flags: int) -> memoryview:  # PEP 688 (3.12+)
        return memoryview(self._wrapped)  # type: ignore[arg-type]

    # -- context manager ---------------------------------------------------------
    def __enter__(self) -> Any:
        return self._fast.__enter__()  # type: ignore[attr-defined]

    def __exit__(self, *exc: Any) -> Any:
        return self._fast.__exit__(*exc)  # type: ignore[attr-defined]

    # -- unary -------------------------------------------------------------------
    def __neg__(self) -> Any:
        return -self._wrapped  # type: ignore[operator]

    def __pos__(self) -> Any:
        return +self._wrapped  # type: ignore[operator]

    def __abs__(self) -> Any:
        return abs(self._wrapped)  # type: ignore[arg-type]

    def __invert__(self) -> Any:
        return ~self._wrapped  # type: ignore[operator]

    __reduce_ex__ = refuse_pickle  # type: ignore[assignment]


def _unwrap(x: Any) -> Any:
    return x._wrapped if isinstance(x, LocalWrapper) else x


# The forwarders are made by factories (the operator is a closure variable,
# never a default argument), so each has exactly the signature of the slot it
# fills: an extra positional argument raises TypeError as it would on the
# wrapped type, instead of landing in a parameter.

def _forward(op: Any, name: str) -> Any:
    def fwd(self: LocalWrapper, other: Any) -> Any:
        return op(self._wrapped, _unwrap(other))

    fwd.__name__ = name
    fwd.__qualname__ = f"LocalWrapper.{name}"
    return fwd


def _reflected(op: Any, name: str) -> Any:
    def rev(self: LocalWrapper, other: Any) -> Any:
        return op(_unwrap(other), self._wrapped)

    rev.__name__ = name
    rev.__qualname__ = f"LocalWrapper.{name}"
    return rev


def _in_place(op: Any, name: str) -> Any:
    def inp(self: LocalWrapper, other: Any) -> LocalWrapper:
        self._rebind(op(self._wrapped, _unwrap(other)))
        return self

    inp.__name__ = name
    inp.__qualname__ = f"LocalWrapper.{name}"
    return inp


def _pow(self: LocalWrapper, other: Any, mod: Any = None) -> Any:
    # pow(w, e, m) passes the modulus as a third argument (None when absent).
    if mod is None:
        return pow(self._wrapped, _unwrap(other))
    return pow(self._wrapped, _unwrap(other), _unwrap(mod))


def _rpow(self: LocalWrapper, other: Any, mod: Any = None) -> Any:
    # Three-argument pow tries __rpow__ from Python 3.14 on.
    if mod is None:
        return pow(_unwrap(other), self._wrapped)
    return pow(_unwrap(other), self._wrapped, _unwrap(mod))


def _install() -> None:
    binary = {
        "add": operator.add, "sub": operator.sub, "mul": operator.mul,
        "matmul": operator.matmul, "truediv": operator.truediv,
        "floordiv": operator.floordiv, "mod": operator.mod, "divmod": divmod,
        "lshift": operator.lshift, "rshift": operator.rshift,
        "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    }
    inplace = {
        "add": operator.iadd, "sub": operator.isub, "mul": operator.imul,
        "matmul": operator.imatmul, "truediv": operator.itruediv,
        "floordiv": operator.ifloordiv, "mod": operator.imod, "pow": operator.ipow,
        "lshift": operator.ilshift, "rshift": operator.irshift, "and": operator.iand,
        "or": operator.ior, "xor": operator.ixor,
    }
    for name, op in binary.items():
        setattr(LocalWrapper, f"__{name}__", _forward(op, f"__{name}__"))
        setattr(LocalWrapper, f"__r{name}__", _reflected(op, f"__r{name}__"))
    for fn, name in ((_pow, "__pow__"), (_rpow, "__rpow__")):
        fn.__name__, fn.__qualname__ = name, f"LocalWrapper.{name}"
        setattr(LocalWrapper, name, fn)
    for name, op in inplace.items():
        setattr(LocalWrapper, f"__i{name}__", _in_place(op, f"__i{name}__"))
    for name, op in {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
                     "le": operator.le, "gt": operator.gt, "ge": operator.ge}.items():
        setattr(LocalWrapper, f"__{name}__", _forward(op, f"__{name}__"))


_install()

# ft_utils keeps BatchExecutor in ft_utils.local; imported last, since
# ftkit.batch needs LocalWrapper (as_local).
from .batch import BatchExecutor  # noqa: E402
