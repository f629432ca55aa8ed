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
"""
from __future__ import annotations

import operator
from typing import Any, Generic, TypeVar

from ._common import refuse_pickle

__all__ = ["LocalWrapper"]

T = TypeVar("T")
_set = object.__setattr__


class LocalWrapper(Generic[T]):
    __slots__ = ("_wrapped", "__weakref__")

    def __init__(self, wrapped: T) -> None:
        _set(self, "_wrapped", wrapped)

    @property
    def wrapped(self) -> T:
        """The wrapped object (read-only; in-place operators rebind it)."""
        return self._wrapped

    # -- attributes ------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("wrapped", "_wrapped"):
            raise AttributeError("LocalWrapper.wrapped is read-only")
        setattr(self._wrapped, name, value)

    def __delattr__(self, name: str) -> None:
        if name in ("wrapped", "_wrapped"):
            raise AttributeError("LocalWrapper.wrapped is read-only")
        delattr(self._wrapped, name)

    def __dir__(self) -> list[str]:
        return dir(self._wrapped)

    # -- containers ------------------------------------------------------------
    def __getitem__(self, key: Any) -> Any:
        return self._wrapped[key]  # type: ignore[index]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._wrapped[key] = value  # type: ignore[index]

    def __delitem__(self, key: Any) -> None:
        del self._wrapped[key]  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._wrapped)  # type: ignore[arg-type]

    def __contains__(self, item: Any) -> bool:
        return item in self._wrapped  # type: ignore[operator]

    def __iter__(self) -> Any:
        return iter(self._wrapped)  # type: ignore[call-overload]

    def __next__(self) -> Any:
        return next(self._wrapped)  # type: ignore[call-overload]

    def __reversed__(self) -> Any:
        return reversed(self._wrapped)  # type: ignore[call-overload]

    # -- calls, conversions -------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._wrapped(*args, **kwargs)  # type: ignore[operator]

    def __str__(self) -> str:
        return str(self._wrapped)

    def __repr__(self) -> str:
        return f"LocalWrapper({self._wrapped!r})"

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

    def __round__(self, *args: Any) -> Any:
        return round(self._wrapped, *args)  # type: ignore[call-overload]

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
        return self._wrapped.__enter__()  # type: ignore[attr-defined]

    def __exit__(self, *exc: Any) -> Any:
        return self._wrapped.__exit__(*exc)  # type: ignore[attr-defined]

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


def _install() -> None:
    binary = {
        "add": operator.add, "sub": operator.sub, "mul": operator.mul,
        "matmul": operator.matmul, "truediv": operator.truediv,
        "floordiv": operator.floordiv, "mod": operator.mod, "divmod": divmod,
        "pow": pow, "lshift": operator.lshift, "rshift": operator.rshift,
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
        def fwd(self: LocalWrapper, other: Any, _op: Any = op) -> Any:
            return _op(self._wrapped, _unwrap(other))

        def rev(self: LocalWrapper, other: Any, _op: Any = op) -> Any:
            return _op(_unwrap(other), self._wrapped)

        fwd.__name__, rev.__name__ = f"__{name}__", f"__r{name}__"
        setattr(LocalWrapper, fwd.__name__, fwd)
        setattr(LocalWrapper, rev.__name__, rev)
    for name, op in inplace.items():
        def inp(self: LocalWrapper, other: Any, _op: Any = op) -> LocalWrapper:
            _set(self, "_wrapped", _op(self._wrapped, _unwrap(other)))
            return self

        inp.__name__ = f"__i{name}__"
        setattr(LocalWrapper, inp.__name__, inp)
    for name, op in {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
                     "le": operator.le, "gt": operator.gt, "ge": operator.ge}.items():
        def cmp(self: LocalWrapper, other: Any, _op: Any = op) -> Any:
            return _op(self._wrapped, _unwrap(other))

        cmp.__name__ = f"__{name}__"
        setattr(LocalWrapper, cmp.__name__, cmp)


_install()
