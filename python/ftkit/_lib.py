"""Load libftkit through cffi in ABI mode and map its status codes.

Loader order: the ``FTKIT_LIBRARY`` environment variable if set, else the
copy shipped inside this package. There is no silent fallback to a system
library. The library is opened with ``RTLD_NOW | RTLD_NODELETE`` (resolve
everything up front; never unmap code other threads may still be running)
and refused if its ABI version differs from the one this binding was
generated for.
"""
from __future__ import annotations

import os
import sys
from typing import NoReturn

from ._ffi import ffi

__all__ = ["ffi", "lib", "library_path", "FtkitError", "BadHandleError", "raise_status",
           "status_name"]

#: The ABI version the generated binding (``_ffi.py``) was made from.
ABI_VERSION: int = 2


def _library_name() -> str:
    if sys.platform == "darwin":
        return "libftkit.dylib"
    if sys.platform == "win32":
        return "ftkit.dll"
    return "libftkit.so"


def _find_library() -> str:
    override = os.environ.get("FTKIT_LIBRARY")
    if override:
        if not os.path.isfile(override):
            raise ImportError(f"FTKIT_LIBRARY={override!r} does not name a file")
        return os.path.abspath(override)
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), _library_name())
    if not os.path.isfile(bundled):
        raise ImportError(
            f"libftkit not found: looked for FTKIT_LIBRARY (unset) and {bundled!r}. "
            "Install a wheel, or build the library with CMake and set FTKIT_LIBRARY "
            "to the built libftkit.so."
        )
    return bundled


def _open():
    path = _find_library()
    flags = getattr(os, "RTLD_NOW", 2) | getattr(os, "RTLD_NODELETE", 0)
    try:
        handle = ffi.dlopen(path, flags)
    except OSError as exc:
        raise ImportError(f"cannot load libftkit from {path!r}: {exc}") from exc
    try:
        abi = handle.ftk_abi_version()
    except AttributeError as exc:  # pragma: no cover - not a libftkit at all
        raise ImportError(f"{path!r} is not libftkit (no ftk_abi_version)") from exc
    if abi != ABI_VERSION:
        raise ImportError(
            f"libftkit at {path!r} has ABI version {abi}, but this ftkit binding "
            f"needs ABI version {ABI_VERSION}; install matching versions"
        )
    return handle, path


lib, library_path = _open()
if lib.FTK_ABI_VERSION != ABI_VERSION:  # the generated cdef and this file disagree
    raise ImportError("ftkit._ffi is out of date: run scripts/gen_cdef.py")


class FtkitError(Exception):
    """A libftkit status that has no better-fitting Python exception.

    ``status`` holds the numeric code and ``name`` its symbolic name.
    """

    def __init__(self, status: int, message: str | None = None) -> None:
        self.status = status
        self.name = status_name(status)
        super().__init__(message or f"{self.name}: {_strerror(status)}")


class BadHandleError(FtkitError, ValueError):
    """An operation on an object that was closed or destroyed."""


def _strerror(status: int) -> str:
    return ffi.string(lib.ftk_strerror(status)).decode()


def status_name(status: int) -> str:
    return ffi.string(lib.ftk_err_name(status)).decode()


def _exception_table() -> dict[int, type[BaseException]]:
    import queue

    from ._compat import ShutDown

    return {
        lib.FTK_EEMPTY: queue.Empty,
        lib.FTK_EFULL: queue.Full,
        lib.FTK_ETIMEDOUT: TimeoutError,
        lib.FTK_ECLOSED: ShutDown,
        lib.FTK_ENOMEM: MemoryError,
        lib.FTK_EBADHANDLE: BadHandleError,
        lib.FTK_EOVERFLOW: OverflowError,
        lib.FTK_EINVAL: ValueError,
        lib.FTK_EBUSY: BlockingIOError,
        lib.FTK_EPERM: RuntimeError,
        lib.FTK_ENOTFOUND: KeyError,
        lib.FTK_EINTR: InterruptedError,
    }


_EXCEPTIONS = _exception_table()


# Per-code messages, in the words of the object the call was made on
# ("{obj}": "ConcurrentQueue", "AtomicCounter", ...); a code missing here
# uses libftkit's own text (ftk_strerror).
_MESSAGES = {
    lib.FTK_EBADHANDLE: "the {obj} is closed",
    lib.FTK_ECLOSED: "the {obj} is shut down",
    lib.FTK_ENOMEM: "out of memory in libftkit",
    lib.FTK_EOVERFLOW: "a count or size does not fit the {obj}",
    lib.FTK_EPERM: "the calling thread does not own what it releases",
}


def status_error(status: int, what: str = "", obj: str = "object") -> BaseException:
    """The Python exception for a non-zero libftkit status (not raised).

    The one place where status codes become exceptions (the table above
    and ``_EXCEPTIONS``): ``raise_status`` raises it, and fast paths that
    must build an exception without a call (closures of closed objects)
    use it directly. ``what`` names the operation, ``obj`` the object.
    """
    exc = _EXCEPTIONS.get(status)
    text = _MESSAGES.get(status)
    text = text.format(obj=obj) if text is not None else _strerror(status)
    msg = f"{what}: {text}" if what else text
    if exc is None:
        return FtkitError(status, msg)
    if issubclass(exc, FtkitError):
        return exc(status, msg)
    return exc(msg)


def raise_status(status: int, what: str = "", obj: str = "object") -> NoReturn:
    """Raise the Python exception for a non-zero libftkit status
    (``status_error``). Every wrapper calls this on its slow path, after it
    has seen status != 0."""
    raise status_error(status, what, obj)
