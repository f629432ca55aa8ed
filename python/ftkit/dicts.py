"""ConcurrentDict: exact dict semantics over libftkit's concurrent hash index.

The C index stores entries (hash, key word, value word) and cannot compare
keys; equality is Python's ``__eq__``, decided here. Protocol (map.h has the
details): find the candidates with the key's hash, compare them in Python,
then act on the exact entry that compared equal (by its key word), or insert
with the *stamp* the find returned, which fails with FTK_EAGAIN if another
entry with that hash appeared meanwhile (then we compare again). So two
threads inserting equal-but-distinct keys never create two entries.

Key words are the key object's identity: ``id(key)``, unique among live
objects, and the entry's record keeps the key alive, so no other live key
can have it while the entry exists. Setting through the key object the entry
was made with, or adding a new key, is then one C call (``ftk_map_put``);
only an equal key under another key word (``1`` and ``1.0``, two equal
strings) needs a second one. Where ``id()`` is not a machine word (PyPy's
ids of floats and big or negative ints), the key word is ``_TAG`` | the
index of a key slot that holds the key, so the two kinds never meet.

Objects live in the dict's own versioned SlotTable (see ftkit._keepalive):
the value word's slot holds a tuple ``(key, value, key_word)``, so one
lookup returns everything a method needs, and replacing a value is one
C call that hands back the old tuple's word to release.
A reader that finds a word released under it (a concurrent set/pop) sees the
slot's generation changed and looks again.

A ``__hash__`` or ``__eq__`` that raises propagates; the dict is unchanged
(anything allocated for the attempt is released first).
"""
from __future__ import annotations

import reprlib
import types
from array import array
from itertools import islice
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Callable, Generic, TypeVar

from ._common import Native, lib, same
from ._keepalive import GEN as _GEN
from ._keepalive import INDEX_MASK, SlotTable
from ._lib import BadHandleError, ffi, raise_status

__all__ = ["ConcurrentDict", "ABSENT"]

K = TypeVar("K")
V = TypeVar("V")

_M64 = (1 << 64) - 1
_REDUCE_BATCH = 64
_find1 = lib.ftk_map_find1_v
_lookup = lib.ftk_map_lookup_v
_MANY = lib.FTK_MAP_SEVERAL  # "several entries with this hash, or an error"
_set_value = lib.ftk_map_set_value_v
_put = lib.ftk_map_put_v
# Key words at or above _TAG name a key slot (index in the low bits); below
# it they are ids. CPython's ids are addresses, always below.
_TAG = 1 << 63
_remove = lib.ftk_map_remove_v
_insert = lib.ftk_map_insert
_cas = lib.ftk_map_cas_value
_size = lib.ftk_map_size_v
_last = lib.ftk_last_status
_OK = lib.FTK_OK
_ENOTFOUND = lib.FTK_ENOTFOUND
_EOVERFLOW = lib.FTK_EOVERFLOW
_EAGAIN = lib.FTK_EAGAIN
_EBADHANDLE = lib.FTK_EBADHANDLE
_CURSOR_END = lib.FTK_MAP_CURSOR_END
_NULL = ffi.NULL
_NAME = "ConcurrentDict"  # for status messages ("the ConcurrentDict is closed")


class _Absent:
    """The "no such key" marker for ``compare_and_set``."""

    _instance = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ftkit.ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
_NOTHING: Any = object()


class ConcurrentDict(Native, Generic[K, V]):
    """A mapping safe and scalable under concurrent use, with dict's key rules.

    >>> d = ConcurrentDict({"a": 1})
    >>> d["b"] = 2
    >>> d.setdefault("a", 100), d.pop("b"), len(d)
    (1, 2, 1)
    >>> d.compare_and_set("c", ConcurrentDict.ABSENT, 3)  # insert only if absent
    True

    ``1``, ``1.0`` and ``True`` are one key, like in ``dict``. Single-key
    operations (``d[k]``, ``d[k] = v``, ``del``, ``get``, ``setdefault``,
    ``pop``, ``compare_and_set``) are atomic. Iteration is weakly
    consistent: it never raises because of concurrent changes, returns every
    key present throughout exactly once, and may or may not see keys added
    or removed meanwhile. ``keys()``/``values()``/``items()`` are snapshot
    lists built that way. ``initial_capacity`` is a sizing hint
    (``scaling=`` is accepted as an alias, for ft_utils code).
    """

    ABSENT = ABSENT
    __class_getitem__: Any = classmethod(types.GenericAlias)
    # set per instance by _install_fast_paths (a view's are its thread's copies)
    _f_lookup: Any
    _f_set_value: Any
    _f_insert: Any
    _f_put: Any
    _c_mask: int
    _get_state: tuple
    _set_state: tuple

    def __init__(self, initial_capacity: int = 0, dictionary: Any = None, *,
                 scaling: int | None = None) -> None:
        if scaling is not None:
            initial_capacity = scaling
        if isinstance(initial_capacity, (Mapping, ConcurrentDict)) and dictionary is None:
            # ConcurrentDict({...}) reads naturally; a mapping is never a size
            initial_capacity, dictionary = 0, initial_capacity
        if not isinstance(initial_capacity, int) or isinstance(initial_capacity, bool):
            raise TypeError("initial_capacity must be an int, not "
                            f"{type(initial_capacity).__name__}")
        if initial_capacity < 0:
            raise ValueError("initial_capacity must be >= 0")
        if initial_capacity > 1 << 40:
            raise OverflowError("initial_capacity is too large")
        self._slots = slots = SlotTable(versioned=True,
                                        capacity=max(16, 2 * initial_capacity + 2))
        # the table's lists, for the hot paths (they grow in place, never swap)
        self._objs, self._words, self._free = slots.objs, slots.words, slots.free
        self._back = slots.back
        self._pop_hint = 0  # where popitem resumes its scan
        self._own(lib.ftk_map_new, lib.ftk_map_free, initial_capacity)
        if dictionary is not None:
            self.update(dictionary)


    def _install_fast_paths(self, fn: Callable[[Any], Any] = same) -> None:
        """The C functions and word constants the hot methods (get, [],
        ``in``, set) use, as instance attributes: the module's own (``same``),
        or in a view (local_view) copies made by the view's thread
        (``thread_copy``). On 3.13t a module global or constant another
        thread made costs an atomic reference-count update on a line every
        thread shares at each load; an attribute of the view costs a dict
        lookup, like a global, and nothing shared (bench/contention.py)."""
        d = self.__dict__
        d["_f_lookup"] = lookup = fn(_lookup)
        d["_f_set_value"] = set_value = fn(_set_value)
        d["_f_insert"] = fn(_insert)
        d["_f_put"] = fn(_put)
        d["_c_mask"] = mask = fn(INDEX_MASK)
        # the hot methods' state in one tuple each: one attribute load
        # instead of five (get) or ten (set); callgrind, 3.13t: get 6,855
        # -> 6,473, set 15,710 -> 13,614 instructions (PYTHONHASHSEED=0)
        d["_get_state"] = (d["_h"], lookup, d["_objs"], d["_words"], mask)
        d["_set_state"] = (d["_h"], lookup, set_value, d["_objs"], d["_words"], d["_free"],
                           d["_back"], mask, fn(_GEN), fn(_M64))

    # -- lookups ---------------------------------------------------------------
    def _candidates(self, hv: int) -> tuple[list, int]:
        """([(pair, value word)], stamp): the live entries with hash hv.

        A candidate whose word was released while we read it means the
        entry changed under us: find again, so the list is a consistent view.
        """
        h = self._h
        slots = self._slots
        room = 8
        while True:
            keys = ffi.new("uint64_t[]", room)
            vals = ffi.new("uint64_t[]", room)
            n = ffi.new("size_t *")
            stamp = ffi.new("uint64_t *")
            st = lib.ftk_map_find(h, hv, keys, vals, room, n, stamp)
            if st == _EOVERFLOW:
                room = n[0] + 8
                continue
            if st:
                raise_status(st, "lookup", _NAME)
            pairs = []
            objs, words = slots.objs, slots.words
            for vw in ffi.unpack(vals, n[0]):
                i = vw & INDEX_MASK
                pair = objs[i]
                if words[i] != vw:
                    break  # released under us
                pairs.append((pair, vw))
            else:
                return pairs, stamp[0]

    def _find(self, key: Any, hv: int) -> tuple[Any, int, int]:
        """(pair of the entry equal to key or None, its value word, stamp)."""
        pairs, stamp = self._candidates(hv)
        for pair, vw in pairs:
            k2 = pair[0]
            if k2 is key or k2 == key:
                return pair, vw, stamp
        return None, 0, stamp

    # Hot paths below inline the slot checks (see ftkit._keepalive): a helper
    # call per operation would cost a Python frame, as much as the work. The
    # hash goes to C as hash() returns it: every map call takes an int64 hash.
    # A lookup is one call (ftk_map_lookup_v: 0 means a miss, _MANY several
    # entries or an error): a get or a miss crosses once, a set of an
    # existing key twice (lookup, set_value), a new key twice (lookup,
    # insert).

    def _pair(self, key: Any) -> Any:
        """The (key, value, kw) of key's entry, or None."""
        hv = hash(key)
        h, lookup, objs, words, mask = self._get_state
        while True:
            vw = lookup(h, hv)
            if not vw:
                return None  # a miss: one call
            if vw != _MANY:
                i = vw & mask
                pair = objs[i]
                if words[i] == vw:
                    k2 = pair[0]
                    if k2 is key or k2 == key:
                        return pair
                    return None
                continue  # released under us
            st = _last()
            if st == _EOVERFLOW:
                return self._find(key, hv)[0]
            raise_status(st, "lookup", _NAME)

    def __getitem__(self, key: K) -> V:
        # _pair's common path inline, here and in get: a helper frame costs
        # as much as the lookup (bench/dicts.py, "get"/"[]" rows; callgrind
        # 3.13t: get 6,473 instructions inline, `in` through _pair 7,617)
        hv = hash(key)
        h, lookup, objs, words, mask = self._get_state
        vw = lookup(h, hv)
        if not vw:
            return self.__missing__(key)
        i = vw & mask
        try:
            pair = objs[i]
        except IndexError:  # _MANY: its index (2**32 - 1) is never a slot
            pair = None
        else:
            if words[i] == vw:
                k2 = pair[0]
                if k2 is key or k2 == key:
                    return pair[1]
                return self.__missing__(key)
        pair = self._pair(key)  # several entries, or released under us
        return self.__missing__(key) if pair is None else pair[1]

    def __missing__(self, key: K) -> V:
        raise KeyError(key)

    def get(self, key: K, default: Any = None) -> Any:
        hv = hash(key)
        h, lookup, objs, words, mask = self._get_state
        vw = lookup(h, hv)
        if not vw:
            return default
        i = vw & mask
        try:
            pair = objs[i]
        except IndexError:  # _MANY: its index (2**32 - 1) is never a slot
            pair = None
        else:
            if words[i] == vw:
                k2 = pair[0]
                return pair[1] if (k2 is key or k2 == key) else default
        pair = self._pair(key)
        return default if pair is None else pair[1]

    def __contains__(self, key: object) -> bool:
        return self._pair(key) is not None

    # -- updates ---------------------------------------------------------------
    def _key_word(self, key: Any) -> int:
        """A new entry's key word: id(key), or a tagged key slot where the id
        is not a word below _TAG (see the module docstring)."""
        kw = id(key)
        if 0 < kw < _TAG:
            return kw
        return _TAG | (self._slots.put(key) & INDEX_MASK)

    def _drop_key(self, kw: int) -> None:
        """Give back what a key word held, once its entry is gone (the key
        slot of a tagged word; an id holds nothing)."""
        if kw >= _TAG:
            slots = self._slots
            slots.release(slots.words[kw & INDEX_MASK])

    def _put_entry(self, key: Any, value: Any) -> tuple[int, int]:
        """The key word and the (key, value, kw) slot for a new entry."""
        kw = self._key_word(key)
        return kw, self._slots.put((key, value, kw))

    def _try_insert(self, hv: int, key: Any, value: Any, stamp: int) -> bool:
        """Insert a new entry if no entry with hash hv appeared since ``stamp``
        (0: if none exists). False on such a conflict (compare again)."""
        kw, nvw = self._put_entry(key, value)
        st = self._f_insert(self._h, hv, kw, nvw, stamp)
        if st == _OK:
            return True
        self._slots.release(nvw)
        self._drop_key(kw)
        if st != _EAGAIN:
            raise_status(st, "insert", _NAME)
        return False

    def _store(self, key: Any, value: Any, replace: bool) -> Any:
        """Insert key -> value, or (if present) replace its value when
        ``replace``; returns the pair that was there (or None)."""
        hv = hash(key)
        h = self._h
        slots = self._slots
        while True:
            vw = self._f_lookup(h, hv)
            if vw and vw != _MANY:
                i = vw & INDEX_MASK
                pair = slots.objs[i]
                if slots.words[i] != vw:
                    continue
                k2 = pair[0]
                if k2 is key or k2 == key:
                    if not replace or self._replace(pair, hv, value):
                        return pair
                    continue  # removed meanwhile: look again
                return self._store_slow(key, hv, value, replace)
            if not vw:
                if self._try_insert(hv, key, value, 0):  # stamp 0: only if no entry has hv
                    return None
                continue
            st = _last()
            if st == _EOVERFLOW:
                return self._store_slow(key, hv, value, replace)
            raise_status(st, "lookup", _NAME)

    def _store_slow(self, key: Any, hv: int, value: Any, replace: bool) -> Any:
        while True:
            pair, _vw, stamp = self._find(key, hv)
            if pair is not None:
                if not replace or self._replace(pair, hv, value):
                    return pair
                continue  # removed meanwhile
            if self._try_insert(hv, key, value, stamp):
                return None

    def __setitem__(self, key: K, value: V) -> None:
        # _store(key, value, True) with its common paths inlined, the state in
        # one tuple: a helper frame costs as much as the call (bench/dicts.py
        # "50/50 get/set" rows). An existing key: lookup, then set_value
        # through the entry's key word. A new key: lookup (a miss), then
        # ftk_map_put with id(key) as key word (callgrind, 3.13t: 19,430 ->
        # 12,330 instructions against lookup + two slot puts + insert behind
        # two frames; in wall time bench/dicts.py "set of a new key" is
        # dominated by growth and reads the same). Put first, lookup never
        # (design.md section 9) measured 12,926 for a set through the stored
        # key object but 19,849 for an equal key object (the usual case for
        # ints and strings made at run time): not taken.
        hv = hash(key)
        h, lookup, set_value, objs, words, free, back, mask, gen, m64 = self._set_state
        vw = lookup(h, hv)
        if vw:
            i = vw & mask
            try:
                pair = objs[i]
            except IndexError:  # _MANY: its index (2**32 - 1) is never a slot
                return self._store(key, value, True)  # (and _store) sort it out
            if words[i] == vw:
                k2 = pair[0]
                if k2 is key or k2 == key:
                    kw = pair[2]
                    try:  # slots.put, inline
                        j = free.pop()
                    except IndexError:
                        j = self._slots.take_index()
                    objs[j] = (k2, value, kw)
                    old = set_value(h, hv, kw, words[j])
                    if old:  # slots.release(old), inline: bump, clear, free
                        i = old & mask
                        words[i] = (old + gen) & m64
                        objs[i] = None
                        back.append(i)
                        return
                    objs[j] = None  # removed meanwhile: give the slot back
                    free.append(j)
        else:  # a miss: add with one more call
            kw = id(key)
            if not kw >> 63:  # not a tagged word (ids are > 0): see _key_word
                try:
                    j = free.pop()
                except IndexError:
                    j = self._slots.take_index()
                objs[j] = (key, value, kw)
                w = self._f_put(h, hv, kw, words[j])
                if not w:
                    return  # added
                i = w & mask
                if i < len(objs):  # not _MANY (several others, or an error)
                    pair = objs[i]
                    if words[i] == w and pair[2] == kw:
                        # this key object was added meanwhile and put set its
                        # value: w is ours (a refusal names another key word)
                        words[i] = (w + gen) & m64
                        objs[i] = None
                        back.append(i)
                        return
                objs[j] = None  # refused: never published, straight back
                free.append(j)
        self._store(key, value, True)

    def _replace(self, pair: tuple, hv: int, value: Any) -> bool:
        """Set the value of pair's entry (named by its key word, keeping its
        key object); False if the entry was removed meanwhile."""
        slots = self._slots
        kw = pair[2]
        nvw = slots.put((pair[0], value, kw))
        old = self._f_set_value(self._h, hv, kw, nvw)
        if old:
            slots.release(old)
            return True
        slots.release(nvw)
        if _last() != _ENOTFOUND:
            raise_status(_last(), "set", _NAME)
        return False

    def setdefault(self, key: K, default: Any = None) -> Any:
        """Atomically: the value of key if present, else insert default."""
        pair = self._store(key, default, False)
        return default if pair is None else pair[1]

    def _remove(self, key: Any) -> Any:
        """Remove key's entry atomically; return its pair or None."""
        hv = hash(key)
        h = self._h
        slots = self._slots
        while True:
            pair = self._pair(key)
            if pair is None:
                return None
            old = _remove(h, hv, pair[2])
            if old:
                kept = slots.release(old)
                self._drop_key(pair[2])
                return kept
            if _last() != _ENOTFOUND:
                raise_status(_last(), "remove", _NAME)
            # replaced or removed meanwhile: look again

    def __delitem__(self, key: K) -> None:
        if self._remove(key) is None:
            raise KeyError(key)

    def pop(self, key: K, default: Any = _NOTHING) -> Any:
        """Atomically remove key and return its value (or default)."""
        pair = self._remove(key)
        if pair is None:
            if default is _NOTHING:
                raise KeyError(key)
            return default
        return pair[1]

    def popitem(self) -> tuple[K, V]:
        """Remove and return some (key, value) pair; KeyError if empty.

        Resumes scanning where the previous popitem stopped (a hint shared by
        all threads, racy by design), so emptying a dict with popitem is
        linear, not quadratic, even though the table never shrinks.
        """
        h = self._h
        slots = self._slots
        room = 1  # one bucket per call, so the hint can point right past it
        keys = ffi.new("uint64_t[]", room)
        hashes = ffi.new("int64_t[]", room)
        cursor = ffi.new("uint64_t *", self._pop_hint)
        n = ffi.new("size_t *")
        start = cursor[0]
        wrapped = start == 0
        seen = False
        while True:
            before = cursor[0]
            st = lib.ftk_map_iter(h, cursor, keys, ffi.NULL, hashes, room, n)
            if st == _EOVERFLOW:
                room = n[0] + 16
                keys = ffi.new("uint64_t[]", room)
                hashes = ffi.new("int64_t[]", room)
                continue
            if st:
                raise_status(st, "popitem", _NAME)
            got = n[0]
            if got == 0:  # reached the end of hash space
                if wrapped:
                    if not seen:
                        raise KeyError("popitem(): dictionary is empty")
                    seen = False  # all we saw was taken by others: go round again
                wrapped = True
                cursor[0] = 0
                continue
            kws = ffi.unpack(keys, got)
            for t, hv in enumerate(ffi.unpack(hashes, got)):
                kw = kws[t]
                old = _remove(h, hv, kw)
                if old:
                    pair = slots.release(old)
                    self._drop_key(kw)
                    # resume at this chunk if it may still hold entries, else past it
                    self._pop_hint = before if t + 1 < got else cursor[0]
                    return pair[0], pair[1]
                if _last() != _ENOTFOUND:
                    raise_status(_last(), "popitem", _NAME)
                seen = True  # removed meanwhile by another thread

    def compare_and_set(self, key: K, expected: Any, desired: Any) -> bool:
        """Atomically: if key's value *is* ``expected`` (identity), make it
        ``desired``. ``expected=ABSENT`` means "key not present" (insert
        only); ``desired=ABSENT`` removes the key. Returns True if it acted."""
        hv = hash(key)
        h = self._h
        slots = self._slots
        while True:
            pair, vw, stamp = self._find(key, hv)
            if pair is None:
                if expected is not ABSENT:
                    return False
                if desired is ABSENT:
                    return True  # absent -> absent: nothing to do
                if self._try_insert(hv, key, desired, stamp):
                    return True
                continue
            if expected is ABSENT or pair[1] is not expected:
                return False
            kw = pair[2]
            if desired is ABSENT:
                st = lib.ftk_map_remove_if(h, hv, kw, vw)
                if st == _OK:
                    slots.release(vw)
                    self._drop_key(kw)
                    return True
            else:
                nvw = slots.put((pair[0], desired, kw))
                st = _cas(h, hv, kw, vw, nvw, _NULL)
                if st == _OK:
                    slots.release(vw)
                    return True
                slots.release(nvw)
            if st not in (_EAGAIN, _ENOTFOUND):
                raise_status(st, "compare_and_set", _NAME)
            # changed meanwhile: look again (the new value may still be expected)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Like dict.update: a mapping (has keys()), or an iterable of pairs,
        then keyword arguments."""
        if isinstance(other, ConcurrentDict):
            for k, v in other.items():
                self[k] = v
        elif isinstance(other, Mapping) or hasattr(other, "keys"):
            for k in other.keys():
                self[k] = other[k]
        else:
            for n, item in enumerate(other):
                try:
                    k, v = item
                except TypeError:
                    raise TypeError(f"cannot convert dictionary update sequence element "
                                    f"#{n} to a sequence") from None
                except ValueError:
                    size: Any
                    try:
                        size = len(item)
                    except TypeError:
                        size = "?"
                    raise ValueError(f"dictionary update sequence element #{n} has length "
                                     f"{size}; 2 is required") from None
                self[k] = v
        for name, v in kwargs.items():
            self[name] = v  # type: ignore[index]  # keyword keys are str

    def reduce(self, pairs: Iterable[tuple[K, Any]], fn: Callable[[Any, Any], Any]) -> None:
        """Fold many (key, value) pairs into the dict: for each pair, the key's
        value becomes ``fn(old, value)``, or ``value`` if the key is absent.

        Pairs are taken 64 at a time: one C call finds every key of the batch,
        ``fn`` folds each key's values in order, and one C call
        compare-and-sets (or inserts) them all. Each key's update is atomic; a
        key that changed concurrently is redone from its new value, so ``fn``
        may run more than once per pair and should have no side effects.
        An exception from ``fn`` or from a key's ``__hash__``/``__eq__``
        propagates; the batches before it are applied, the failing batch is
        not (except keys already retried one by one).
        """
        it = iter(pairs)
        while True:
            chunk = list(islice(it, _REDUCE_BATCH))
            if not chunk:
                return
            self._reduce_batch(chunk, fn)

    def _reduce_batch(self, chunk: list, fn: Callable[[Any, Any], Any]) -> None:
        groups: dict = {}  # dict's own key rules group equal keys, in order
        for key, value in chunk:
            vals = groups.get(key)
            if vals is None:
                groups[key] = [value]
            else:
                vals.append(value)
        keys = list(groups)
        n = len(keys)
        hashes = array("q", [hash(k) for k in keys])  # hash() is an int64 (map.h)
        kbuf = ffi.new("uint64_t[]", n)
        vbuf = ffi.new("uint64_t[]", n)
        nbuf = ffi.new("uint64_t[]", n)
        sbuf = ffi.new("uint64_t[]", n)
        h = self._h
        st = lib.ftk_map_find_many(h, ffi.from_buffer("int64_t[]", hashes), n,
                                   kbuf, vbuf, nbuf, sbuf)
        if st:
            raise_status(st, "reduce", _NAME)
        slots = self._slots
        objs, words = slots.objs, slots.words
        free, back = slots.free, slots.back
        ncand = ffi.unpack(nbuf, n)  # Python lists: indexing cdata costs more
        vwords = ffi.unpack(vbuf, n)
        cas_i: list[int] = []    # batch positions to compare-and-set
        cas_new: list[int] = []
        cas_kw: list[int] = []
        ins_i: list[int] = []    # batch positions to insert
        ins_kw: list[int] = []
        ins_vw: list[int] = []
        slow: list[int] = []     # positions done one key at a time
        try:
            for i in range(n):
                key = keys[i]
                vals = groups[key]
                count = ncand[i]
                if count == 0:
                    acc = vals[0]
                    for v in vals[1:]:
                        acc = fn(acc, v)
                    kw, nvw = self._put_entry(key, acc)
                    ins_i.append(i)
                    ins_kw.append(kw)
                    ins_vw.append(nvw)
                    continue
                if count == 1:
                    vw = vwords[i]
                    j = vw & INDEX_MASK
                    pair = objs[j]
                    if words[j] == vw:
                        k2 = pair[0]
                        if k2 is key or k2 == key:
                            acc = pair[1]
                            for v in vals:
                                acc = fn(acc, v)
                            cas_i.append(i)
                            cas_kw.append(pair[2])
                            try:  # slots.put, inline
                                j = free.pop()
                            except IndexError:
                                j = slots.take_index()
                            objs[j] = (k2, acc, pair[2])
                            cas_new.append(words[j])
                            continue
                slow.append(i)
        except BaseException:
            for w in cas_new + ins_vw:
                slots.release(w)
            for kw in ins_kw:
                self._drop_key(kw)
            raise
        retry = list(slow)
        if cas_i:
            m = len(cas_i)
            stat = ffi.new("int[]", m)
            lib.ftk_map_cas_value_many(
                h, ffi.from_buffer("int64_t[]", array("q", [hashes[i] for i in cas_i])),
                ffi.from_buffer("uint64_t[]", array("Q", cas_kw)),
                ffi.from_buffer("uint64_t[]", array("Q", [vwords[i] for i in cas_i])),
                ffi.from_buffer("uint64_t[]", array("Q", cas_new)), m, ffi.NULL, stat)
            for t, code in enumerate(ffi.unpack(stat, m)):
                if code == _OK:  # slots.release, inline: bump, clear, free
                    old = vwords[cas_i[t]]
                    j = old & INDEX_MASK
                    words[j] = (old + _GEN) & _M64
                    objs[j] = None
                    back.append(j)
                else:
                    slots.release(cas_new[t])
                    retry.append(cas_i[t])
        if ins_i:
            m = len(ins_i)
            stat = ffi.new("int[]", m)
            lib.ftk_map_insert_many(
                h, ffi.from_buffer("int64_t[]", array("q", [hashes[i] for i in ins_i])),
                ffi.from_buffer("uint64_t[]", array("Q", ins_kw)),
                ffi.from_buffer("uint64_t[]", array("Q", ins_vw)),
                ffi.from_buffer("uint64_t[]", array("Q", [sbuf[i] for i in ins_i])),
                m, stat)
            for t, code in enumerate(ffi.unpack(stat, m)):
                if code != _OK:
                    slots.release(ins_vw[t])
                    self._drop_key(ins_kw[t])
                    retry.append(ins_i[t])
        for i in retry:  # conflicts and multi-candidate hashes: one key at a time
            key = keys[i]
            hv = hash(key)
            for v in groups[key]:
                while not self._reduce_slow(key, hv, v, fn):
                    pass

    def _reduce_slow(self, key: Any, hv: int, value: Any, fn: Callable) -> bool:
        """One attempt through the full candidate list; True if applied."""
        h = self._h
        slots = self._slots
        pair, vw, stamp = self._find(key, hv)
        if pair is None:
            return self._try_insert(hv, key, value, stamp)
        kw = pair[2]
        nvw = slots.put((pair[0], fn(pair[1], value), kw))
        if _cas(h, hv, kw, vw, nvw, _NULL) == _OK:
            slots.release(vw)
            return True
        slots.release(nvw)
        return False

    def clear(self) -> None:
        """Remove every entry present when the call began.

        One pass over the table (``ftk_map_drain_pass``) that removes only
        what was there when it began: its work is bounded by that, and it
        ends even while other threads keep inserting (their new entries
        stay).
        """
        h = self._h
        slots = self._slots
        keys = ffi.new("uint64_t[]", 256)
        vals = ffi.new("uint64_t[]", 256)
        state = ffi.new("uint64_t[2]")  # cursor and the pass's start
        n = ffi.new("size_t *")
        while state[0] != _CURSOR_END:
            st = lib.ftk_map_drain_pass(h, state, keys, vals, 256, n)
            if st:
                raise_status(st, "clear", _NAME)
            got = n[0]
            if got:
                slots.release_many(ffi.unpack(vals, got))
                for kw in ffi.unpack(keys, got):
                    if kw >= _TAG:  # (an id holds nothing: no _drop_key frame)
                        self._drop_key(kw)

    # -- iteration -------------------------------------------------------------
    def _iter_pairs(self) -> Iterator[Any]:
        """The (key, value, kw) records of the entries, from the C iterator.

        A value word released while we read it (a concurrent set) does not
        hide its key: the entry's current record is looked up by its hash
        and key word; an entry removed meanwhile is skipped.
        """
        h = self._h
        slots = self._slots
        room = 128
        keys = ffi.new("uint64_t[]", room)
        vals = ffi.new("uint64_t[]", room)
        hashes = ffi.new("int64_t[]", room)
        cursor = ffi.new("uint64_t *", 0)
        n = ffi.new("size_t *")
        while True:
            st = lib.ftk_map_iter(h, cursor, keys, vals, hashes, room, n)
            if st == _EOVERFLOW:
                room = n[0] + 16
                keys = ffi.new("uint64_t[]", room)
                vals = ffi.new("uint64_t[]", room)
                hashes = ffi.new("int64_t[]", room)
                continue
            if st == _EBADHANDLE:
                return  # closed while iterating: weakly consistent, stop
            if st:
                raise_status(st, "iterate", _NAME)
            got = n[0]
            if got == 0:
                return
            objs, words = slots.objs, slots.words
            for kw, vw, hv in zip(ffi.unpack(keys, got), ffi.unpack(vals, got),
                                  ffi.unpack(hashes, got)):
                i = vw & INDEX_MASK
                pair = objs[i]
                if words[i] == vw:
                    yield pair
                    continue
                for pair, _ in self._candidates(hv)[0]:  # replaced meanwhile
                    if pair[2] == kw:
                        yield pair
                        break

    def __iter__(self) -> Iterator[K]:
        return (p[0] for p in self._iter_pairs())

    def keys(self) -> list[K]:  # type: ignore[override]
        return [p[0] for p in self._iter_pairs()]

    def values(self) -> list[V]:  # type: ignore[override]
        return [p[1] for p in self._iter_pairs()]

    def items(self) -> list[tuple[K, V]]:  # type: ignore[override]
        return [(p[0], p[1]) for p in self._iter_pairs()]

    def as_dict(self) -> dict[K, V]:
        return {p[0]: p[1] for p in self._iter_pairs()}

    def copy(self) -> ConcurrentDict[K, V]:
        new = type(self)()
        for p in self._iter_pairs():
            new[p[0]] = p[1]
        return new

    def __len__(self) -> int:
        n = _size(self._h)
        if n == 0 and _last() == _EBADHANDLE:
            raise_status(_EBADHANDLE, "len", _NAME)
        return n

    def __bool__(self) -> bool:
        return len(self) != 0

    # -- comparisons and operators ---------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConcurrentDict):
            other = other.as_dict()
        if isinstance(other, Mapping):
            return self.as_dict() == dict(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = None  # type: ignore[assignment]

    def __or__(self, other: Any) -> ConcurrentDict:
        if not isinstance(other, (Mapping, ConcurrentDict)):
            return NotImplemented
        new = self.copy()
        new.update(other)
        return new

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, Mapping):
            return NotImplemented
        new = type(self)(dictionary=other)
        new.update(self)
        return new

    def __ior__(self, other: Any) -> ConcurrentDict:
        self.update(other)
        return self

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        try:
            items = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        except BadHandleError:
            return f"<{type(self).__name__} closed>"
        return f"{type(self).__name__}({{{items}}})"


MutableMapping.register(ConcurrentDict)
