"""The one mechanism that keeps Python objects alive while C holds their words.

libftkit containers store 64-bit words and never touch reference counts.
Every ftkit container that stores Python objects owns one :class:`SlotTable`:

* ``objs``: a list; index ``i`` holds the object a word stands for (None when
  free). The list belongs to the container object, so the cycle collector
  sees container -> list -> object: cycles through a container are
  collectable, and collecting a container releases everything it holds.
* ``free``: indices ready to be taken; ``back``: indices released since the
  last refill (unversioned tables; in versioned ones ``back`` is ``free``).
  Takers pop from ``free`` and releasers append to ``back``
  (``list.pop``/``list.append`` are atomic per list in free-threaded CPython),
  so a producer and a consumer of one queue do not contend on one list's
  lock and cache lines for every item; a taker that finds ``free`` empty
  moves ``back`` into it under a lock, once per many items (measured:
  1 producer + 1 consumer 0.64 -> 0.74 M items/s on 3.13t).
* the word of index ``i`` is ``gen << 32 | i``. In a *versioned* table
  (containers whose words are read by threads that do not own them:
  AtomicReference, ConcurrentDict) ``words[i]`` holds the current word and a
  release bumps the generation before the index is reused. A reader that
  loaded word ``w`` from C reads ``objs[i]`` and then checks
  ``words[i] == w``; if the slot was released in between the check fails and
  the reader loads again. Words are never reused with the same generation
  until 2**32 reuses of one index, so no ABA. Queue-like containers, whose
  words always have exactly one owner, use an unversioned table (word = i).

Index 0 is never used, so the word 0 can stand for "nothing"/None.

Why this design: measured on CPython 3.13t with the GIL disabled
(bench/keepalive.py, figures in docs/design.md), one store+take costs about
250 ns here against about 500 ns for a dict keyed by words from the C slot
allocator (with per-op or batched FFI calls) or for ``ffi.new_handle``.
"""
from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from itertools import repeat, starmap
from typing import Any, Iterable

GEN = 1 << 32
INDEX_MASK = GEN - 1
WORD_MASK = (1 << 64) - 1
MISSING: Any = object()
_consume: Any = deque(maxlen=0).extend  # runs an iterator to the end, in C
_NONES: list[list[None]] = [[None] * n for n in range(257)]


def nones(n: int) -> list[None]:
    """A list of n Nones for clearing a slice (shared, never mutated)."""
    return _NONES[n] if n <= 256 else [None] * n


# Fork: a child must not inherit a table lock held by a parent thread that
# does not exist there (a grow in progress). Every lock is taken before
# fork() and released in the parent; the child gets fresh locks (the state
# they protect is consistent: the forking thread held them all).
_TABLES: "weakref.WeakSet[SlotTable]" = weakref.WeakSet()
_HELD: list = []


def _before_fork() -> None:
    while True:
        try:
            tables = list(_TABLES)
            break
        except RuntimeError:  # another thread added a table while we copied
            pass
    for t in tables:
        t._lock.acquire()
    _HELD[:] = tables


def _after_fork_parent() -> None:
    tables = _HELD[:]
    _HELD.clear()
    for t in tables:
        t._lock.release()


def _after_fork_child() -> None:
    _HELD.clear()
    for t in list(_TABLES):
        t._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                        after_in_child=_after_fork_child)


class SlotTable:
    __slots__ = ("objs", "words", "free", "back", "runs", "tups", "versioned", "_lock",
                 "__weakref__")

    def __init__(self, versioned: bool = True, capacity: int = 16,
                 tuples: bool | None = None) -> None:
        capacity = max(2, capacity)
        self.versioned = versioned
        self.objs: list[Any] = [None] * capacity
        self.words: list[int] = list(range(capacity))
        self.free: list[int] = list(range(capacity - 1, 0, -1))  # index 0 unused
        # Released indices wait in `back` for the next refill in unversioned
        # tables (queues: one thread takes, another releases). In versioned
        # tables (AtomicReference, ConcurrentDict) the thread that takes a
        # slot usually releases one at once, so there `back` *is* `free`:
        # LIFO reuse, no refills.
        self.back: list[int] = self.free if versioned else []
        # Free *runs* (first, count) of consecutive indices, for batch
        # operations of unversioned tables: a batch moves objects with one
        # slice assignment instead of a loop per item.
        self.runs: list[tuple[int, int]] = []
        # Tables whose pops release in place (queues, by default unversioned
        # tables; the deque and the gatherer ask for them): tups[i] is the
        # 1-tuple (i,), made once, so a pop releases its index with
        # ``free += tups[i]``: no call (the interrupt rule), no tuple
        # allocated per pop (each one advanced the cyclic collector), and the
        # int that travels to the next taker is the table's own, not one the
        # popping thread made (dropping another thread's object is a
        # cross-thread deallocation on 3.13t). docs/performance.md, "Where
        # the 1P+1C pipeline's time goes".
        if tuples is None:
            tuples = not versioned
        self.tups: list[tuple[int]] | None = list(zip(range(capacity))) if tuples else None
        self._lock = threading.Lock()
        _TABLES.add(self)

    # -- capacity -----------------------------------------------------------
    def grow(self, at_least: int = 1) -> None:
        """Make at least ``at_least`` indices free: move the released ones
        back, and add new ones (doubling) if that is not enough. Once per
        many items; serialised by a lock."""
        with self._lock:
            free = self.free
            if len(free) >= at_least:
                return  # another thread refilled it meanwhile
            back = self.back
            n = len(back) if back is not free else 0
            if n:
                # Only releasers append to back and only this locked code
                # removes from it, so its first n items stay put meanwhile.
                chunk = back[:n]
                del back[:n]
                # Highest first, so pops hand out ascending neighbours: single
                # pushes then pop (and come back) as runs, which batches reuse.
                chunk.sort(reverse=True)
                free.extend(chunk)
            n = len(self.objs)
            # Grow unless the refill gave an eighth of the table: otherwise a
            # nearly full table would refill (and lock) every few items.
            if len(free) >= max(at_least, n >> 3):
                return
            add = max(n, at_least * 2)
            # extend words (and tups) before objs, and objs before publishing
            # the indices
            self.words.extend(range(n, n + add))
            if self.tups is not None:
                self.tups.extend(zip(range(n, n + add)))
            self.objs.extend(repeat(None, add))
            self.free.extend(range(n + add - 1, n - 1, -1))

    def take_index(self) -> int:
        """A free index (growing the table if needed)."""
        while True:
            try:
                return self.free.pop()
            except IndexError:
                self.grow()

    # -- single objects -------------------------------------------------------
    def put(self, obj: Any) -> int:
        """Keep ``obj`` alive under a fresh word; return the word."""
        try:
            i = self.free.pop()
        except IndexError:
            i = self.take_index()
        self.objs[i] = obj
        return self.words[i]

    def release(self, w: int) -> Any:
        """Release word ``w`` (owned by the caller); return its object."""
        i = w & INDEX_MASK
        objs = self.objs
        obj = objs[i]
        if self.versioned:
            self.words[i] = (w + GEN) & WORD_MASK  # before the index can be reused
        objs[i] = None
        self.back.append(i)
        return obj

    def peek(self, w: int) -> Any:
        """The object under ``w``, or MISSING if ``w`` was released (versioned)."""
        i = w & INDEX_MASK
        obj = self.objs[i]
        return obj if self.words[i] == w else MISSING

    # -- many objects ---------------------------------------------------------
    def take_indices(self, n: int) -> list[int]:
        """n free indices; each list.pop is atomic, the loop runs in C."""
        free = self.free
        if len(free) < n:
            self.grow(n)
        out: list[int] = []
        try:
            # extend keeps what it appended when the iterator raises
            out.extend(starmap(free.pop, repeat((), n)))
        except IndexError:
            # Other takers emptied the list after we grew it: keep the
            # indices already taken and take the rest one by one (growing).
            while len(out) < n:
                out.append(self.take_index())
        return out

    def put_many(self, items: list[Any]) -> list[int]:
        """Keep each object alive under its own word; words in order."""
        idx = self.take_indices(len(items))
        objs = self.objs
        _consume(map(objs.__setitem__, idx, items))
        if self.versioned:
            return list(map(self.words.__getitem__, idx))
        return idx

    def release_many(self, words: list[int]) -> list[Any]:
        """Release words the caller owns; return their objects in order."""
        objs = self.objs
        if self.versioned:
            idx = [w & INDEX_MASK for w in words]
            _consume(map(self.words.__setitem__, idx,
                          [(w + GEN) & WORD_MASK for w in words]))
        else:
            idx = words
        out = list(map(objs.__getitem__, idx))
        _consume(map(objs.__setitem__, idx, repeat(None)))
        self.back.extend(idx)
        return out

    # -- runs of consecutive indices (unversioned tables) ---------------------
    def take_run(self, n: int) -> int:
        """First index of n consecutive free indices (unversioned tables), or
        -1 when there is no such run but enough free single indices: then the
        caller takes n scattered ones (take_indices). The table grows only
        when it is short of indices, so batches of any size, popped in any
        slices, never make it grow without bound."""
        runs = self.runs
        while runs:  # (an exception costs more than this test)
            try:
                first, count = runs.pop()
            except IndexError:
                break
            if count >= n:
                if count > n:
                    runs.append((first + n, count - n))
                return first
            # too short for this batch: its indices serve single operations
            self.back.extend(range(first + count - 1, first - 1, -1))
        return self._grow_run(n)

    def _grow_run(self, n: int) -> int:
        if len(self.free) + len(self.back) >= n + (len(self.objs) >> 3):
            return -1  # the common answer, without the lock
        with self._lock:
            first = len(self.objs)
            if len(self.free) + len(self.back) >= n + (first >> 3):
                return -1  # enough spare indices, just not consecutive
            add = max(n, first // 2, 64)
            self.words.extend(range(first, first + add))
            if self.tups is not None:
                self.tups.extend(zip(range(first, first + add)))
            self.objs.extend(repeat(None, add))
            if add > n:
                self.runs.append((first + n, add - n))
            return first

    def release_run(self, first: int, n: int) -> None:
        """Give back n consecutive indices whose objects were cleared."""
        if n >= 2:
            self.runs.append((first, n))
        else:  # a single index serves single pushes
            self.back.extend(range(first + n - 1, first - 1, -1))

    def clear(self) -> list[Any]:
        """Drop every object (the container is closing); return them."""
        with self._lock:
            objs = self.objs
            held = [o for o in objs if o is not None]
            n = len(objs)
            if self.versioned:
                self.words[:] = [(w + GEN) & WORD_MASK for w in self.words]
            objs[:] = repeat(None, n)
            self.free[:] = range(n - 1, 0, -1)
            if self.back is not self.free:
                self.back.clear()
            self.runs.clear()
        return held

    def live(self) -> int:
        """Number of objects held (approximate under concurrent use)."""
        back = len(self.back) if self.back is not self.free else 0
        return (len(self.objs) - 1 - len(self.free) - back
                - sum(count for _, count in list(self.runs)))

    def __iter__(self) -> Iterable[Any]:  # for debugging and tests
        return (o for o in self.objs if o is not None)
