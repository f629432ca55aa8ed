"""AtomicCounter: exactness after joins, reads bounded and monotone while
threads count, exchange/reset conservation, thread-owned views, bad values,
threads that exit before the read, close and collection."""
from __future__ import annotations

import copy
import gc
import pickle
import threading
import weakref
from decimal import Decimal
from fractions import Fraction

import pytest

import ftkit
from ftkit import AtomicCounter, BadHandleError
from ftkit._lib import ffi, lib

from conftest import collect, collect_if_pypy

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def test_basic_methods():
    c = AtomicCounter(5)
    assert c.get() == 5 and int(c) == 5
    assert c.incr() is None and c.decr() is None and c.add(10) is None
    assert c.get() == 15
    c += 5
    c -= 2
    assert isinstance(c, AtomicCounter) and c.get() == 18
    assert c.exchange(100) == 18 and c.get() == 100
    c.set(7)
    assert c.get() == 7
    assert c.reset() == 7 and c.get() == 0
    assert repr(c) == "AtomicCounter(0)"
    assert AtomicCounter().get() == 0
    assert AtomicCounter(value=3).get() == 3


def test_exports():
    assert ftkit.AtomicCounter is AtomicCounter and "AtomicCounter" in ftkit.__all__
    from ftkit import concurrency
    assert concurrency.AtomicCounter is AtomicCounter and "AtomicCounter" in concurrency.__all__


def test_wraps_like_c_int64():
    c = AtomicCounter(INT64_MAX)
    c.incr()
    assert c.get() == INT64_MIN
    c.decr()
    assert c.get() == INT64_MAX
    c.set(INT64_MIN)
    c.add(-1)
    assert c.get() == INT64_MAX


@pytest.mark.parametrize("bad", [1.5, "1", None, Decimal("2.5"), Fraction(7, 2), [1]])
def test_type_errors(bad):
    c = AtomicCounter(1)
    with pytest.raises(TypeError):
        c.add(bad)
    with pytest.raises(TypeError):
        c += bad
    with pytest.raises(TypeError):
        c.set(bad)
    with pytest.raises(TypeError):
        c.exchange(bad)
    with pytest.raises(TypeError):
        AtomicCounter(bad)
    assert c.get() == 1


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1, 2**100])
def test_overflow_errors(big):
    c = AtomicCounter(1)
    for fn in (c.add, c.set, c.exchange, AtomicCounter):
        with pytest.raises(OverflowError):
            fn(big)
    with pytest.raises(OverflowError):
        c -= INT64_MIN
    assert c.get() == 1


def test_index_and_bool_are_accepted():
    class Idx:
        def __index__(self):
            return 4

    c = AtomicCounter(True)
    c.add(Idx())
    c.add(True)
    assert c.get() == 6


def test_object_protocols():
    c = AtomicCounter(3)
    with pytest.raises(TypeError):
        pickle.dumps(c)
    with pytest.raises(TypeError):
        copy.copy(c)
    r = weakref.ref(c)
    assert r() is c
    del c
    collect_if_pypy()
    assert r() is None


def test_exact_after_joins_8_threads(threads):
    c = AtomicCounter()
    n = 50_000

    def body(i):
        incr, add = c.incr, c.add
        for k in range(n):
            incr()
        add(i)

    threads(8, body)
    assert c.get() == 8 * n + sum(range(8))


def test_views_exact_after_joins(threads):
    c = AtomicCounter(1)
    n = 50_000

    def body(_):
        mine = c.local()
        assert type(mine) is AtomicCounter and mine is not c and mine._owner is c._owner
        assert mine.incr is not c.incr and mine._h is not c._h  # its own partials and handle
        incr, decr = mine.incr, mine.decr
        for _ in range(n):
            incr()
            incr()
            decr()
        mine.add(2)

    threads(8, body)
    assert c.get() == 1 + 8 * (n + 2)
    v = c.local()
    assert v.get() == c.get() and int(v) == c.get() and v.local()._owner is c._owner
    assert repr(v) == repr(c)
    v.reset()
    assert c.get() == 0  # same C counter


def test_concurrent_get_is_bounded_and_monotone(threads):
    """Adders count `started` before and `done` after each incr; the reader
    checks done-before <= get() <= started-after, and that get() never
    decreases (increment-only counter)."""
    c = AtomicCounter()
    nadd, n = 3, 20_000
    started = [0] * nadd
    done = [0] * nadd
    stop = threading.Event()
    errors = []

    def body(i):
        if i == nadd:
            last = 0
            while not stop.is_set():
                lo = sum(done)
                v = c.get()
                hi = sum(started)
                if not (lo <= v <= hi and v >= last):
                    errors.append((lo, v, hi, last))
                last = v
            return
        incr = c.local().incr
        for _ in range(n):
            started[i] += 1
            incr()
            done[i] += 1
        if sum(done) == nadd * n:
            stop.set()

    threads(nadd + 1, body)
    assert errors == []
    assert c.get() == nadd * n


def test_reset_while_counting_loses_nothing(threads):
    c = AtomicCounter()
    n = 30_000
    taken = []
    finished = threading.Event()
    left = [3]
    lock = threading.Lock()

    def body(i):
        if i == 0:
            k = 0
            while not finished.is_set():
                taken.append(c.reset() if k % 2 else c.exchange(0))
                k += 1
            return
        incr = c.incr
        for _ in range(n):
            incr()
        with lock:
            left[0] -= 1
            if left[0] == 0:
                finished.set()

    threads(4, body)
    assert sum(taken) + c.get() == 3 * n


def test_threads_that_exit_before_get_are_counted():
    c = AtomicCounter()
    for wave in range(4):
        ts = [threading.Thread(target=lambda: [c.incr() for _ in range(1000)]) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert c.get() == (wave + 1) * 4000
    cells = ffi.new("size_t *")
    assert lib.ftk_counter_cells(c._h, cells) == 0
    assert cells[0] <= 16  # the exited threads' slots were reused


def test_close():
    c = AtomicCounter(4)
    incr = c.incr
    view = c.local()
    c.close()
    assert view.get.__self__ is view
    for call in (c.get, c.incr, c.decr, lambda: c.add(1), lambda: c.set(1), c.reset,
                 lambda: c.exchange(1), lambda: int(c), view.get):
        with pytest.raises(BadHandleError):
            call()
    assert isinstance(BadHandleError(1, "x"), ValueError)
    incr()  # taken before close: does nothing (documented), never crashes
    view.incr()
    assert "closed" in repr(c)


def test_bound_method_outlives_object():
    c = AtomicCounter(1)
    incr = c.incr
    r = weakref.ref(c)
    del c
    collect()
    assert r() is None
    incr()
    incr()
    assert lib.ftk_counter_get_v(incr.args[0]) == 3  # the partial keeps the C counter alive


def test_collected_counter_frees_its_handle():
    live = lib.ftk_live_handles()
    cs = [AtomicCounter(i) for i in range(100)]
    for x in cs:
        x.incr()
    assert lib.ftk_live_handles() >= live + 100
    del cs, x
    collect()
    gc.collect()
    assert lib.ftk_live_handles() <= live


def test_get_zero_is_not_mistaken_for_an_error():
    lib.ftk_counter_get_v(ffi.NULL)  # leaves FTK_EBADHANDLE as the last status
    c = AtomicCounter()
    assert c.get() == 0 and c.exchange(0) == 0 and c.reset() == 0


def test_subclass_overrides_are_kept():
    class Loud(AtomicCounter):
        def incr(self):
            self.add(2)

    c = Loud()
    c.incr()
    c.decr()
    assert c.get() == 1
    v = c.local()
    assert type(v) is Loud
    v.incr()
    assert c.get() == 3
