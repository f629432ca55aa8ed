"""The slot table that keeps Python objects alive while C holds their words."""
from __future__ import annotations

import gc
import weakref

from ftkit._keepalive import GEN, INDEX_MASK, MISSING, SlotTable

from conftest import collect_if_pypy


class Obj:
    pass


def test_put_release_roundtrip_and_index_zero_unused():
    t = SlotTable(capacity=2)
    objs = [Obj() for _ in range(100)]  # forces growth
    words = [t.put(o) for o in objs]
    assert 0 not in words and len(set(words)) == 100
    assert t.live() == 100
    assert [t.release(w) for w in words] == objs
    assert t.live() == 0 and all(o is None for o in t.objs)


def test_versioned_words_change_on_reuse_and_peek_detects_it():
    t = SlotTable(versioned=True, capacity=2)  # one usable index
    a, b = Obj(), Obj()
    w1 = t.put(a)
    assert t.peek(w1) is a
    assert t.release(w1) is a
    assert t.peek(w1) is MISSING
    w2 = t.put(b)  # refilled from the released ones: same index, new generation
    assert w2 & INDEX_MASK == w1 & INDEX_MASK and w2 == w1 + GEN
    assert t.peek(w1) is MISSING and t.peek(w2) is b


def test_unversioned_words_are_indices():
    t = SlotTable(versioned=False, capacity=2)
    w = t.put(Obj())
    t.release(w)
    assert t.put(Obj()) == w


def test_released_indices_are_reused_and_a_full_table_grows():
    # Takers use `free`, releasers fill `back`; an empty `free` is refilled
    # from `back`, and the table doubles instead when the refill would give
    # less than an eighth of it (else every few puts would take the lock).
    t = SlotTable(versioned=False, capacity=64)
    held = [t.put(Obj()) for _ in range(40)]
    for _ in range(10_000):  # churn with 40 held: indices are recycled
        t.release(t.put(Obj()))
    assert len(t.objs) == 64 and t.live() == 40
    held += [t.put(Obj()) for _ in range(23)]  # 63 held: table full
    for _ in range(1_000):
        t.release(t.put(Obj()))
    assert len(t.objs) == 128 and t.live() == 63
    assert sorted(set(held)) == sorted(held)


def test_many():
    for versioned in (True, False):
        t = SlotTable(versioned=versioned, capacity=4)
        objs = [Obj() for _ in range(1000)]
        words = t.put_many(objs)
        assert len(set(words)) == 1000
        assert [t.peek(w) for w in words[:10]] == objs[:10] or not versioned
        assert t.release_many(words) == objs
        assert t.live() == 0


def test_release_drops_the_reference_at_once():
    t = SlotTable()
    o = Obj()
    r = weakref.ref(o)
    w = t.put(o)
    del o
    assert r() is not None
    t.release(w)
    collect_if_pypy()
    assert r() is None


def test_cycle_through_table_is_collectable():
    class Holder:
        def __init__(self):
            self.t = SlotTable()

    h = Holder()
    h.t.put(h)
    r = weakref.ref(h)
    del h
    gc.collect()
    assert r() is None


def test_clear_returns_and_drops_everything():
    t = SlotTable()
    objs = [Obj() for _ in range(50)]
    words = t.put_many(objs)
    held = t.clear()
    assert sorted(map(id, held)) == sorted(map(id, objs))
    assert t.live() == 0 and all(t.peek(w) is MISSING for w in words)


def test_threads_never_share_an_index(threads):
    t = SlotTable(versioned=True, capacity=2)
    n = 20_000

    def body(k):
        mine = []
        for j in range(n):
            o = (k, j)
            w = t.put(o)
            mine.append(w)
            if j % 3 == 0:  # release some at once, keep others for a while
                assert t.release(mine.pop()) == o
            if len(mine) > 50:
                for w2 in mine[:25]:
                    assert t.peek(w2) is not MISSING
                    t.release(w2)
                del mine[:25]
        return mine

    kept = threads(8, body)
    words = [w for lst in kept for w in lst]
    assert len(words) == len(set(w & INDEX_MASK for w in words))  # no index held twice
    for w in words:
        t.release(w)
    assert t.live() == 0
    # every index back exactly once, either ready or waiting for a refill
    waiting = t.back if t.back is not t.free else []
    assert sorted(t.free + waiting) == list(range(1, len(t.objs)))


def test_release_tuples_follow_every_growth():
    # A pop releases index i with ``free += tups[i]``: tups[i] must be (i,)
    # for every slot, however the table grew (single takes and runs), and
    # only tables that ask for them carry them (dicts would pay memory).
    q = SlotTable(versioned=False, capacity=4)
    for n in (1, 3, 40, 200):
        q.take_indices(n)
    assert q.take_run(300) >= 0  # a new run: the table grew by _grow_run
    assert q.tups is not None and len(q.tups) == len(q.objs)
    assert all(t == (i,) for i, t in enumerate(q.tups))
    d = SlotTable(versioned=True, capacity=4, tuples=True)
    d.take_indices(100)
    assert d.tups is not None and len(d.tups) == len(d.objs)
    assert all(t == (i,) for i, t in enumerate(d.tups))
    assert SlotTable(versioned=True).tups is None
