"""Helpers shared by the wrapper classes (argument checks, pickling refusal)."""
from __future__ import annotations

from typing import Any, NoReturn

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
    """Call a ``ftk_*_new(args..., ftk_handle_t *out)`` and return the handle."""
    out = ffi.new("ftk_handle_t *")
    st = fn(*args, out)
    if st:
        raise_status(st)
    return out[0]


def refuse_pickle(self: Any, protocol: int = 2) -> NoReturn:
    raise TypeError(
        f"cannot pickle {type(self).__name__!r} object: it owns native "
        "concurrency state that cannot be copied across processes"
    )


__all__ = ["as_int64", "new_handle", "refuse_pickle", "lib", "ffi", "INT64_MIN", "INT64_MAX"]
