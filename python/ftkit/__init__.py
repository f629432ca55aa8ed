"""ftkit: scalable concurrency primitives for free-threaded Python.

Written once in C (libftkit, a stable C ABI with no libpython dependency) and
loaded here through cffi in ABI mode. See https://peps.python.org/pep-0703/
for why free threading makes these necessary: without the GIL, a plain
``counter += 1`` from several threads loses updates for real.
"""
from __future__ import annotations

from ._compat import Empty, Full, ShutDown, gil_enabled
from ._lib import ABI_VERSION, BadHandleError, FtkitError, lib, library_path
from .atomic import AtomicFlag, AtomicInt64, AtomicReference
from .counter import AtomicCounter
from .deque import ConcurrentDeque, EmptyDequeError
from .dicts import ABSENT, ConcurrentDict
from .gather import ConcurrentGatheringIterator
from .local import LocalWrapper
from .batch import BatchExecutor
from .queues import ConcurrentQueue, StdConcurrentQueue
from .semaphore import ProcessSemaphore
from .synchronization import IntervalLock, RWLock, RWReadContext, RWWriteContext

from ._lib import ffi as _ffi

#: Version of the loaded libftkit (the Python package has the same version).
__version__: str = _ffi.string(lib.ftk_version_string()).decode()
del _ffi

__all__ = [
    "ABI_VERSION",
    "ABSENT",
    "AtomicCounter",
    "AtomicFlag",
    "AtomicInt64",
    "AtomicReference",
    "BadHandleError",
    "BatchExecutor",
    "ConcurrentDeque",
    "ConcurrentDict",
    "ConcurrentGatheringIterator",
    "ConcurrentQueue",
    "Empty",
    "EmptyDequeError",
    "FtkitError",
    "Full",
    "IntervalLock",
    "LocalWrapper",
    "ProcessSemaphore",
    "RWLock",
    "RWReadContext",
    "RWWriteContext",
    "ShutDown",
    "StdConcurrentQueue",
    "__version__",
    "gil_enabled",
    "library_path",
]
