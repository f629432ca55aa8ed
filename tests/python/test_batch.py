"""BatchExecutor: the ft_utils API and its argument errors, a model against
a single-threaded reference, 8-thread storms (every value exactly once, in
production order per thread), failure of the source (the caller gets it,
later and waiting loads get RuntimeError with the cause, the partial batch is
released), re-entrancy, close racing loads and refills, collection releasing
buffered values, hostile values, views, and real SIGINT storms landing in
loads, waits and refills (inside source() too): nothing lost or handed out
twice.
"""
from __future__ import annotations

import gc
import itertools
import pickle
import random
import threading
import time
import weakref

import pytest

import ftkit
from ftkit import BadHandleError, BatchExecutor, LocalWrapper
from ftkit.batch import MAX_SIZE, VIEW_CHUNK

from conftest import FTKIT_DIR, PYPY, Interrupts, collect, collect_if_pypy, run_threads


class Item:
    __slots__ = ("v", "__weakref__")

    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"Item({self.v})"


def tracked_items():
    """(refs, make): ``make(v)`` returns a new Item(v) and records a weak
    reference to it in ``refs`` (list.append is atomic: safe from any thread),
    so a test can check that every value handed out is released."""
    refs: list = []

    def make(v):
        it = Item(v)
        refs.append(weakref.ref(it))
        return it

    return refs, make


class Counting:
    """A source returning 0, 1, 2, ... that counts its calls."""

    def __init__(self, make=int):
        self.n = 0
        self.make = make

    def __call__(self):
        v = self.n
        self.n = v + 1
        return self.make(v)


# -- API ---------------------------------------------------------------------------------

def test_exports():
    import ftkit.local

    assert ftkit.local.BatchExecutor is BatchExecutor is ftkit.BatchExecutor
    assert "BatchExecutor" in ftkit.__all__ and "BatchExecutor" in ftkit.local.__all__


@pytest.mark.parametrize("size", [1, 2, 7, 64])
def test_values_in_order_and_refill_calls(size):
    src = Counting()
    ex = BatchExecutor(src, size)
    assert src.n == 0  # nothing produced before the first load
    got = [ex.load() for _ in range(3 * size + 1)]
    assert got == list(range(3 * size + 1))
    assert src.n == 4 * size  # one refill of `size` calls per batch
    assert ex.available() == size - 1
    assert ex.size == size and ex.source is src and not ex.failed()


def test_keywords_and_ft_utils_constructor_errors():
    ex = BatchExecutor(source=Counting(), size=3)
    assert ex.load() == 0
    with pytest.raises(TypeError, match="source must be callable"):
        BatchExecutor(1, 2)
    for bad in ("2", 2.0, None, object()):
        with pytest.raises(TypeError, match="size must be an integer"):
            BatchExecutor(Counting(), bad)
    for bad in (0, -1, False):  # ft_utils: bool is an int, False is not positive
        with pytest.raises(ValueError, match="size must be positive"):
            BatchExecutor(Counting(), bad)
    assert BatchExecutor(Counting(), True).size == 1  # True is 1, as in ft_utils
    for big in (MAX_SIZE + 1, 2**63, 2**64):
        with pytest.raises(OverflowError):
            BatchExecutor(Counting(), big)

    class MyInt(int):
        pass

    assert BatchExecutor(Counting(), MyInt(5)).size == 5


def test_ft_utils_error_classes_match():
    ftl = pytest.importorskip("ft_utils.local")
    for args in ((1, 2), (Counting(), "2"), (Counting(), 0), (Counting(), False),
                 (Counting(), 2.0)):
        with pytest.raises(Exception) as theirs:
            ftl.BatchExecutor(*args)
        with pytest.raises(Exception) as ours:
            BatchExecutor(*args)
        assert type(ours.value) is type(theirs.value), args
        assert str(theirs.value) in str(ours.value)


def test_as_local_local_repr_pickle_weakref_subclass_generic():
    ex = BatchExecutor(Counting(), 4)
    w = ex.as_local()  # a LocalWrapper whose calls go through a prefetching view
    assert type(w) is LocalWrapper and w.wrapped is ex
    assert w.load() == 0  # claims 0..3, holds 1..3
    v = ex.local()
    assert v.load() == 4 and ex.load() == 8  # the same batches
    assert [w.load(), w.load(), v.load(), w.load()] == [1, 2, 5, 3]
    assert w.source is ex.source and w.size == 4 and not w.failed()
    assert "BatchExecutor" in repr(ex) and "size=4" in repr(ex) and "open" in repr(ex)
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(ex)
    assert weakref.ref(ex)() is ex
    assert BatchExecutor[int] is not None

    class Mine(BatchExecutor):
        def extra(self):
            return self.load() * 10

    assert Mine(Counting(), 2).extra() == 0


def test_a_load_taken_from_a_temporary_keeps_it_alive():
    ld = BatchExecutor(Counting(), 2).load
    collect()
    assert [ld(), ld(), ld()] == [0, 1, 2]


def test_none_values_and_shared_values():
    ex = BatchExecutor(lambda: None, 3)
    assert [ex.load() for _ in range(7)] == [None] * 7
    o = object()
    ex = BatchExecutor(lambda: o, 5)
    assert all(ex.load() is o for _ in range(12))
    vals = iter([1, None, 2, None, None, 3])
    ex = BatchExecutor(vals.__next__, 2)
    assert [ex.load() for _ in range(6)] == [1, None, 2, None, None, 3]


# -- the model ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_model_against_a_reference(seed):
    rng = random.Random(seed)
    size = rng.randint(1, 9)
    src = Counting()
    ex = BatchExecutor(src, size)
    k = min(size, VIEW_CHUNK)
    # the reference: C's given-back list and batch rest, each view's held values
    ret, rest, produced = [], [], 0
    views = [ex.local(), ex.local(), ex.as_local()]
    held = [[], [], []]
    for _ in range(400):
        i = rng.randrange(5)
        if i == 4:  # the shared load: one claim
            if not ret and not rest:
                rest, produced = list(range(produced, produced + size)), produced + size
            want = ret.pop(0) if ret else rest.pop(0)
            assert ex.load() == want
        elif i == 3:  # drop a view: what it holds goes back, in order
            j = rng.randrange(3)
            ret += held[j]
            held[j] = []
            views[j] = ex.local() if j < 2 else ex.as_local()
            collect()
        else:
            if held[i]:
                want = held[i].pop(0)
            elif ret:  # given-back values are claimed one at a time
                want = ret.pop(0)
            else:
                if not rest:
                    rest, produced = list(range(produced, produced + size)), produced + size
                chunk, rest = rest[:k], rest[k:]
                want, held[i] = chunk[0], chunk[1:]
            assert views[i].load() == want
        assert src.n == produced
        assert ex.available() == len(ret) + len(rest)


# -- storms --------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 5, 64])
def test_storm_every_value_once_in_order(size):
    n_threads, per = 8, 3000 if size > 1 else 800
    ex = BatchExecutor(Counting(), size)
    end = threading.Barrier(n_threads)

    def work(i):
        ld = ex.load if i % 2 else ex.local().load
        got = [ld() for _ in range(per)]
        # a view gives its held values back when its thread ends, and a
        # given-back value is older than the ones loaded since: keep the
        # views until every thread is done
        end.wait()
        return got

    results = run_threads(n_threads, work)
    for r in results:
        assert all(a < b for a, b in zip(r, r[1:])), "a thread saw values out of order"
    # the views' held values went back when their threads ended
    collect_if_pypy()  # PyPy frees a finished thread's view (its give-back) at a collection
    rest = [ex.load() for _ in range(ex.available())]
    seen = sorted(itertools.chain(rest, *results))
    assert seen == list(range(ex.source.n))


def test_storm_objects_are_released_once_loaded():
    refs, make = tracked_items()

    ex = BatchExecutor(Counting(make), 16)

    def work(i):
        return sum(1 for _ in range(2000) if ex.load() is not None)

    assert sum(run_threads(4, work)) == 8000
    collect()
    alive = [r() for r in refs if r() is not None]
    assert len(alive) == ex.available() <= 16  # only the unclaimed rest of a batch
    del ex
    collect()
    assert all(r() is None for r in refs)


# -- failure ----------------------------------------------------------------------------------

def test_failure_gives_the_caller_the_error_and_later_loads_a_runtime_error():
    refs = []
    err = ValueError("boom")

    def src():
        if len(refs) == 6:
            raise err
        it = Item(len(refs))
        refs.append(weakref.ref(it))
        return it

    ex = BatchExecutor(src, 4)
    assert [ex.load().v for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(ValueError) as info:
        ex.load()
    assert info.value is err
    collect()
    assert refs[4]() is None and refs[5]() is None  # the partial batch was released
    assert ex.failed() and "failed" in repr(ex)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="shut down") as later:
            ex.load()
        assert later.value.__cause__ is err
    with pytest.raises(RuntimeError):
        ex.local().load()


def test_failure_wakes_the_loads_waiting_for_that_refill():
    go = threading.Event()
    err = KeyError("source gone")
    started = threading.Event()

    def src():
        started.set()
        go.wait()
        raise err

    ex = BatchExecutor(src, 3)
    outcomes = []

    def refiller():
        try:
            ex.load()
        except KeyError as e:
            outcomes.append(("refiller", e))

    def waiter():
        try:
            ex.load()
        except RuntimeError as e:
            outcomes.append(("waiter", e.__cause__))

    t0 = threading.Thread(target=refiller)
    t0.start()
    started.wait()
    ws = [threading.Thread(target=waiter) for _ in range(3)]
    for t in ws:
        t.start()
    time.sleep(0.1)  # they wait (asleep in C) for the refill
    go.set()
    for t in [t0, *ws]:
        t.join(10)
    assert sorted(o[0] for o in outcomes) == ["refiller", "waiter", "waiter", "waiter"]
    assert all(o[1] is err for o in outcomes)


def test_reentrant_load_raises_instead_of_deadlocking():
    seen = []
    ex = None

    def src():
        try:
            ex.load()
        except RuntimeError as e:
            seen.append(e)
        return len(seen)

    ex = BatchExecutor(src, 2)
    assert [ex.load(), ex.load()] == [1, 2]  # the source handled it: still working
    assert len(seen) == 2 and "refilling" in str(seen[0])

    def src2():
        return ex2.load()

    ex2 = BatchExecutor(src2, 2)
    with pytest.raises(RuntimeError, match="refilling the same executor"):
        ex2.load()
    with pytest.raises(RuntimeError, match="shut down"):  # the source raised: failed
        ex2.load()


# -- close and collection ----------------------------------------------------------------------

def test_close_releases_buffered_values_and_later_loads_raise():
    refs, make = tracked_items()

    ex = BatchExecutor(Counting(make), 8)
    taken = ex.load  # a load taken before the close
    kept = ex.load()
    ex.close()
    ex.close()  # idempotent
    collect()
    assert kept.v == 0 and sum(r() is not None for r in refs) == 1
    for ld in (ex.load, taken):
        with pytest.raises(BadHandleError, match="closed"):
            ld()
    assert "closed" in repr(ex)
    with BatchExecutor(Counting(), 2) as ex2:
        assert ex2.load() == 0
    with pytest.raises(BadHandleError):
        ex2.load()


def test_close_wakes_loads_waiting_for_a_refill_and_refuses_the_refill():
    go = threading.Event()
    started = threading.Event()
    refs = []

    def src():
        started.set()
        go.wait()
        it = Item(0)
        refs.append(weakref.ref(it))
        return it

    ex = BatchExecutor(src, 2)
    outcomes = []

    def load():
        try:
            outcomes.append(ex.load())
        except BadHandleError as e:
            outcomes.append(e)

    ts = [threading.Thread(target=load) for _ in range(3)]
    ts[0].start()
    started.wait()
    for t in ts[1:]:
        t.start()
    time.sleep(0.1)
    ex.close()
    go.set()
    for t in ts:
        t.join(10)
    assert len(outcomes) == 3 and all(isinstance(o, BadHandleError) for o in outcomes)
    collect()
    assert all(r() is None for r in refs)  # the refused refill's values were released


@pytest.mark.parametrize("size", [1, 8])
def test_close_racing_loads_and_refills(size):
    for rnd in range(5):
        refs, make = tracked_items()
        ex = BatchExecutor(Counting(make), size)

        def work(i):
            if i == 0:
                time.sleep(0.002 * rnd)
                ex.close()
                return []
            got = []
            while True:
                try:
                    got.append(ex.load())
                except BadHandleError:
                    return got

        results = run_threads(5, work)
        vals = [it.v for r in results for it in r]
        assert len(vals) == len(set(vals)), "a value was handed out twice"
        for res in results:
            assert all(a.v < b.v for a, b in zip(res, res[1:]))
        del results, res
        collect()
        assert all(r() is None for r in refs), "a buffered value leaked"


def test_collection_releases_buffered_values():
    refs, make = tracked_items()

    ex = BatchExecutor(Counting(make), 10)
    ex.load()
    r_ex = weakref.ref(ex)
    del ex
    collect()
    assert r_ex() is None and all(r() is None for r in refs)
    # a failed executor (its error holds a traceback) is collected too
    ex = BatchExecutor(lambda: 1 / 0, 3)
    with pytest.raises(ZeroDivisionError):
        ex.load()
    r_ex = weakref.ref(ex)
    del ex
    gc.collect()
    assert r_ex() is None


@pytest.mark.skipif(PYPY, reason="counts __del__ calls made at once (reference counting); "
                    "PyPy runs them at a collection")
def test_hostile_values_del_reentering_the_executor():
    out = []

    class Rude:
        def __del__(self):
            try:
                out.append(ex.load())
            except Exception as e:  # closed or shut down: a clear error, no crash
                out.append(type(e))

    ex = BatchExecutor(Rude, 4)
    for _ in range(9):
        ex.load()  # each value dies at once and loads another from inside __del__
    assert len(out) == 9 and all(isinstance(o, Rude) for o in out)
    assert ex.available() == 2  # 18 of 20 values handed out
    ex.close()  # releasing buffered values re-enters the closed executor
    assert out[9:] == [BadHandleError, BadHandleError]


# -- interrupts ----------------------------------------------------------------------------------

class SourceInterrupts(Interrupts):
    """Interrupts that also raise inside the source's own frame (a
    KeyboardInterrupt from inside source()). One at a time in the
    contract's sense: after a handler raised, the next signal waits until
    the test caught the KeyboardInterrupt (``recovered()``), so none lands
    inside the recovery of the previous one even when this loaded host
    deschedules the thread for milliseconds in the middle of it (the
    contract does not cover that case, docs/design.md section 10)."""

    def __init__(self, code, seed=7):
        super().__init__(seed)
        self.code = code
        self.done = threading.Event()
        self.done.set()
        self.gate = self.done  # the base sender waits for it

    def recovered(self):
        self.done.set()

    def handler(self, signum, frame):
        if frame is not None and (frame.f_code is self.code
                                  or frame.f_code.co_filename.startswith(FTKIT_DIR)):
            self.raised += 1
            self.done.clear()
            self.handled.set()
            raise KeyboardInterrupt
        self.handled.set()



def _sigint_storm(ex, src, helpers, seconds=2.0, load=None, helper_view=False):
    stop = threading.Event()
    got_helpers = []
    load = load or ex.load

    def helper():
        mine = []
        ld = ex.local().load if helper_view else ex.load
        while not stop.is_set():
            try:
                mine.append(ld())
            except BadHandleError:
                break
        got_helpers.append(mine)

    ts = [threading.Thread(target=helper) for _ in range(helpers)]
    for t in ts:
        t.start()
    got, interrupted = [], 0
    with SourceInterrupts(src.__code__) as irq:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                got.append(load())
            except KeyboardInterrupt:
                interrupted += 1
                irq.recovered()
    stop.set()
    for t in ts:
        t.join(10)
    return got, got_helpers, interrupted, irq.raised


def _plain_source():
    """(source, state): a source returning 0, 1, 2, ... with no call inside
    it, so an interrupt lands at its entry or not at all (Counting calls
    make()); state["n"] is how many values it produced."""
    state = {"n": 0}

    def src():
        v = state["n"]
        state["n"] = v + 1
        return v

    return src, state


@pytest.mark.skipif(PYPY, reason="PyPy runs signal handlers at other points of a frame")
@pytest.mark.parametrize("size, helpers", [(1, 0), (16, 0), (7, 3)])
def test_sigint_storm_loses_nothing_and_repeats_nothing(size, helpers):
    src, state = _plain_source()
    ex = BatchExecutor(src, size)
    got, got_helpers, interrupted, raised = _sigint_storm(ex, src, helpers)
    assert raised >= 5, "the storm did not reach ftkit frames"
    # The interrupted thread's values stay in order; a helper may receive a
    # value given back by an interrupted load after newer ones (documented).
    assert all(a < b for a, b in zip(got, got[1:]))
    collect_if_pypy()  # PyPy frees a finished thread's view (its give-back) at a collection
    rest = [ex.load() for _ in range(ex.available())]
    everything = sorted(got + rest + [v for h in got_helpers for v in h])
    # every value source() returned, exactly once
    assert everything == list(range(state["n"]))
    assert not ex.failed()


# -- prefetching views ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 7, 64, 100])
def test_view_storm_each_thread_its_own_view(size):
    """8 threads, each with its own view: every value exactly once overall,
    strictly increasing per thread; while the views live, each holds back at
    most k - 1 values and loaded + held + available() is everything
    produced; once their threads end the held values are back."""
    n_threads, per = 8, 3000 if size > 1 else 600
    ex = BatchExecutor(Counting(), size)
    k = min(size, VIEW_CHUNK)
    loaded_all = threading.Barrier(n_threads + 1)
    checked = threading.Event()
    out = [None] * n_threads

    def work(i):
        v = ex.local()
        out[i] = [v.load() for _ in range(per)]
        loaded_all.wait()
        checked.wait()  # v (and its held values) live until the check is done

    ts = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in ts:
        t.start()
    loaded_all.wait()
    loaded = list(itertools.chain(*out))
    held = ex.source.n - len(loaded) - ex.available()
    checked.set()
    for t in ts:
        t.join()
    for r in out:
        assert all(a < b for a, b in zip(r, r[1:])), "a view handed out values out of order"
    assert len(loaded) == len(set(loaded)) == n_threads * per
    assert 0 <= held <= n_threads * (k - 1)
    collect_if_pypy()  # PyPy frees a finished thread's view (its give-back) at a collection
    rest = [ex.load() for _ in range(ex.available())]
    assert sorted(loaded + rest) == list(range(ex.source.n))


def test_view_holds_at_most_chunk_minus_one_and_available_accounts():
    ex = BatchExecutor(Counting(), 100)
    v = ex.local()
    assert v.load() == 0
    assert ex.available() == 100 - VIEW_CHUNK  # the view holds VIEW_CHUNK - 1
    assert ex.load() == VIEW_CHUNK
    assert [v.load() for _ in range(VIEW_CHUNK - 1)] == list(range(1, VIEW_CHUNK))
    assert v.load() == VIEW_CHUNK + 1  # its next chunk


def test_view_dropped_mid_chunk_gives_back_to_another_thread():
    ex = BatchExecutor(Counting(), 64)
    v = ex.local()
    assert [v.load() for _ in range(5)] == [0, 1, 2, 3, 4]
    del v
    collect()
    assert ex.available() == 64 - 5
    got = run_threads(1, lambda i: [ex.load() for _ in range(27)])[0]
    assert got == list(range(5, 32))  # the given-back ones first, in order
    # a view whose thread ended gives back too, even if the view object lives on
    kept = []

    def owner(i):
        kept.append(ex.local())
        return kept[-1].load()

    first = run_threads(1, owner)[0]
    collect_if_pypy()  # PyPy frees the ended thread's view state at a collection
    assert first == 32 and ex.available() == 31
    assert [ex.load() for _ in range(31)] == list(range(33, 64))
    with pytest.raises(RuntimeError, match="thread that made it"):
        kept[0].load()  # a view is its thread's


def test_view_close_gives_back_then_closes_and_closed_views_release():
    refs, make = tracked_items()

    ex = BatchExecutor(Counting(make), 16)
    v, w = ex.local(), ex.local()
    assert v.load().v == 0  # v holds 1..15
    # another thread's view holding values when the executor closes
    other = []

    def hold(i):
        o = ex.local()
        other.append(o.load().v)  # batch 2: 16, holds 17..31
        return o

    holder = run_threads(1, hold)[0]  # (its thread ended: values given back)
    collect_if_pypy()  # (on PyPy at a collection)
    assert other == [16] and ex.available() == 15
    assert w.load().v == 17  # the given-back values come first
    v.close()  # v's held values go back, then the executor closes
    collect()
    # v's and the holder's values were given back, then released by the close;
    # w's chunk keeps the one it handed out until w's next load
    assert [r().v for r in refs if r() is not None] == [17]
    with pytest.raises(BadHandleError, match="closed"):
        w.load()
    collect()
    assert [r().v for r in refs if r() is not None] == []
    with pytest.raises(BadHandleError):
        v.load()
    del holder, v, w
    collect()
    assert all(r() is None for r in refs), "a held value leaked"


def test_view_of_a_closed_executor_hands_out_what_it_holds_then_raises():
    refs, make = tracked_items()

    ex = BatchExecutor(Counting(make), 8)
    v = ex.local()
    assert v.load().v == 0  # holds 1..7
    ex.close()
    assert [v.load().v for _ in range(7)] == list(range(1, 8))
    with pytest.raises(BadHandleError, match="closed"):
        v.load()
    v2 = ex.local()
    with pytest.raises(BadHandleError):
        v2.load()
    collect()
    assert all(r() is None for r in refs)
    # dropping a view that holds values after the close releases them
    ex = BatchExecutor(Counting(make), 8)
    v = ex.local()
    v.load()
    ex.close()
    del v
    collect()
    assert all(r() is None for r in refs), "a held value leaked"


def test_failure_propagates_through_views():
    err = KeyError("planned")
    state = {"n": 0}

    def src():
        v = state["n"]
        if v == 40:
            raise err
        state["n"] = v + 1
        return v

    ex = BatchExecutor(src, 10)
    a, b = ex.local(), ex.local()
    assert a.load() == 0  # a holds 1..9
    assert [b.load() for _ in range(30)] == list(range(10, 40))
    with pytest.raises(KeyError):
        b.load()  # b refills and the source raises
    assert ex.failed()
    assert [a.load() for _ in range(9)] == list(range(1, 10))  # claimed before the failure
    for ld in (a.load, b.load, ex.load, ex.local().load):
        with pytest.raises(RuntimeError, match="shut down") as ei:
            ld()
        assert ei.value.__cause__ is err


def test_view_reentrant_load_from_source_raises():
    box = {}

    def src():
        return box["v"].load()

    ex = BatchExecutor(src, 4)
    box["v"] = ex.local()
    with pytest.raises(RuntimeError, match="refilling"):
        box["v"].load()


def test_view_none_values():
    vals = iter([1, None, 2, None, None, 3, None, 4] * 10)
    ex = BatchExecutor(vals.__next__, 8)
    v = ex.local()
    assert [v.load() for _ in range(5)] == [1, None, 2, None, None]
    del v
    collect()
    w = ex.local()
    assert [w.load() for _ in range(11)] == [3, None, 4] + [1, None, 2, None, None, 3, None, 4]


def test_views_and_executor_are_collected_with_their_values():
    refs, make = tracked_items()

    ex = BatchExecutor(Counting(make), 32)
    views = [ex.local() for _ in range(3)]
    for v in views:
        v.load()
    r_ex, r_views = weakref.ref(ex), [weakref.ref(v) for v in views]
    ld = views[0].load  # a load taken from a view keeps its values
    del ex, views, v
    collect()
    assert all(r() is None for r in r_views) and r_ex() is None
    assert ld().v == 1
    del ld
    collect()
    assert all(r() is None for r in refs), "a value leaked"


@pytest.mark.skipif(PYPY, reason="PyPy runs signal handlers at other points of a frame")
@pytest.mark.parametrize("size, helpers", [(1, 0), (16, 0), (64, 2), (7, 3)])
def test_sigint_storm_through_a_view(size, helpers):
    src, state = _plain_source()
    ex = BatchExecutor(src, size)
    view = ex.local()
    got, got_helpers, interrupted, raised = _sigint_storm(ex, src, helpers, load=view.load,
                                                          helper_view=True)
    assert raised >= 5, "the storm did not reach ftkit frames"
    assert all(a < b for a, b in zip(got, got[1:]))
    del view
    collect()
    rest = [ex.load() for _ in range(ex.available())]
    everything = sorted(got + rest + [v for h in got_helpers for v in h])
    assert everything == list(range(state["n"]))
    assert not ex.failed()


@pytest.mark.parametrize("size", [3, 40])
def test_view_churn_give_backs_racing_refills(size):
    """Threads that keep dropping views mid-chunk (their held values go back
    through fresh slot runs) while the others refill and load: every value
    exactly once, never a slot read twice or a reused run's value."""
    ex = BatchExecutor(Counting(), size)

    def work(i):
        rng = random.Random(i)
        got = []
        for _ in range(300 if size > 3 else 150):
            v = ex.local() if i % 4 else ex
            got += [v.load() for _ in range(rng.randint(1, 45))]
            del v  # a view: its held values go back now
        return got

    loaded = list(itertools.chain(*run_threads(8, work)))
    assert None not in loaded
    collect_if_pypy()  # PyPy frees a finished thread's view (its give-back) at a collection
    rest = [ex.load() for _ in range(ex.available())]
    assert sorted(loaded + rest) == list(range(ex.source.n))


def test_hostile_values_del_reentering_a_view():
    """A value whose __del__ loads through the same view (it runs when the
    view drops its exhausted chunk, inside the view's claim path): the
    re-entrant load takes one value the executor's way; nothing is lost or
    handed out twice."""
    kept = []  # values loaded from inside __del__ (kept: no endless chain)
    made = [0]

    class Rude:
        def __init__(self):
            self.v = made[0]
            made[0] += 1

        def __del__(self):
            if self.v % 4 == 0 and len(kept) < 200:  # some of them
                try:
                    kept.append(view.load())
                except Exception as e:  # closed: a clear error, no crash
                    kept.append(e)

    ex = BatchExecutor(Rude, 8)
    view = ex.local()
    outer = [view.load().v for _ in range(60)]  # each dies at once
    assert not [e for e in kept if isinstance(e, Exception)]
    seen = outer + [o.v for o in kept]
    assert len(set(seen)) == len(seen), "a value was handed out twice"
    del view
    collect()
    rest = [o.v for o in (ex.load() for _ in range(ex.available()))]
    seen += rest
    assert sorted(seen) == sorted(set(seen))
    assert len(kept) >= 5  # the re-entrant path ran (the chunks die inside slow)
    # every value made is accounted for (the held ones came back)
    assert set(seen) == set(range(made[0]))
    kept.clear()
    ex.close()
