"""AtomicInt64, AtomicFlag, AtomicReference against API.md."""
from __future__ import annotations

import copy
import gc
import operator
import pickle
import threading
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftkit import AtomicFlag, AtomicInt64, AtomicReference

from conftest import collect_if_pypy

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
int64s = st.integers(INT64_MIN, INT64_MAX)
EDGES = [INT64_MIN, INT64_MIN + 1, -(2**32), -7, -1, 0, 1, 2, 3, 7, 2**31, 2**32 + 5,
         INT64_MAX - 1, INT64_MAX]


def wrap(v: int) -> int:
    v &= 2**64 - 1
    return v - 2**64 if v > INT64_MAX else v


BINARY = [operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod,
          operator.or_, operator.xor, operator.and_, operator.truediv, divmod]
INPLACE = {operator.iadd: operator.add, operator.isub: operator.sub,
           operator.imul: operator.mul, operator.ifloordiv: operator.floordiv,
           operator.ior: operator.or_, operator.ixor: operator.xor,
           operator.iand: operator.and_, operator.imod: operator.mod}


def outcome(fn, *args):
    """(result, None) or (None, exception type)."""
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001
        return None, type(exc)


# -- AtomicInt64: exact agreement with Python ints ----------------------------

@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_binary_operators_match_int_on_edges(op):
    for a in EDGES:
        for b in EDGES:
            assert outcome(op, AtomicInt64(a), b) == outcome(op, a, b), (op, a, b)
            assert outcome(op, a, AtomicInt64(b)) == outcome(op, a, b), ("reflected", op, a, b)


@settings(max_examples=300, deadline=None)
@given(int64s, int64s)
def test_binary_operators_match_int_property(a, b):
    for op in BINARY:
        assert outcome(op, AtomicInt64(a), b) == outcome(op, a, b)
        assert outcome(op, a, AtomicInt64(b)) == outcome(op, a, b)


def test_reflected_operators_examples():
    assert 10 - AtomicInt64(5) == 5
    assert 7 // AtomicInt64(-2) == -4
    assert -7 % AtomicInt64(3) == 2
    assert 2 ** AtomicInt64(10) == 1024
    assert 1 << AtomicInt64(3) == 8


@pytest.mark.parametrize("shift", [0, 1, 5, 63, 64, 100])
def test_shifts_are_exact(shift):
    for a in EDGES:
        assert AtomicInt64(a) << shift == a << shift
        assert AtomicInt64(a) >> shift == a >> shift
    with pytest.raises(ValueError):
        AtomicInt64(1) << -1


@settings(max_examples=300, deadline=None)
@given(int64s, int64s)
def test_inplace_operators_wrap_like_c(a, b):
    for iop, op in INPLACE.items():
        x = AtomicInt64(a)
        expected, exc = outcome(op, a, b)
        if exc is not None:
            with pytest.raises(exc):
                iop(x, b)
            assert x.get() == a  # unchanged on error
            continue
        y = iop(x, b)
        assert y is x and type(y) is AtomicInt64
        assert x.get() == wrap(expected), (iop, a, b)


@pytest.mark.parametrize("shift", [0, 1, 7, 63, 64, 99])
def test_inplace_shifts(shift):
    for a in EDGES:
        x = AtomicInt64(a)
        x <<= shift
        assert x.get() == wrap(a << shift)
        x = AtomicInt64(a)
        x >>= shift
        assert x.get() == a >> shift


def test_unary_and_conversions():
    for a in EDGES:
        x = AtomicInt64(a)
        assert -x == -a and +x == a and abs(x) == abs(a) and ~x == ~a
        assert int(x) == a and float(x) == float(a) and operator.index(x) == a
        assert bool(x) == bool(a)
        assert format(x, "x") == format(a, "x") and f"{x:>30,}" == f"{a:>30,}"
        assert round(x) == a and round(x, -2) == round(a, -2)
    assert [10, 20, 30][AtomicInt64(1)] == 20
    assert repr(AtomicInt64(-5)) == "AtomicInt64(-5)"


def test_comparisons_with_ints_and_floats():
    x = AtomicInt64(5)
    assert x == 5 and x == 5.0 and x != 6 and x < 5.5 and x <= 5 and x > 4.9 and x >= 5
    assert x == AtomicInt64(5) and x < AtomicInt64(6)
    assert (x == "5") is False
    with pytest.raises(TypeError):
        x < "5"  # noqa: B015


def test_methods_and_wrapping():
    x = AtomicInt64(INT64_MAX)
    assert x.incr() == INT64_MIN
    assert x.decr() == INT64_MAX
    assert x.add(2) == INT64_MIN + 1
    x.set(10)
    assert x.fetch_add(5) == 10 and x.get() == 15
    assert x.fetch_sub(20) == 15 and x.get() == -5
    assert x.fetch_and(0b1100) == -5 and x.get() == (-5 & 0b1100)
    x.set(0b1010)
    assert x.fetch_or(0b0101) == 0b1010 and x.get() == 0b1111
    assert x.fetch_xor(0b0110) == 0b1111 and x.get() == 0b1001
    assert x.exchange(42) == 0b1001 and x.get() == 42
    assert x.compare_exchange(42, 43) is True and x.get() == 43
    assert x.compare_exchange(42, 44) is False and x.get() == 43
    x.set(INT64_MIN)
    assert x.fetch_sub(1) == INT64_MIN and x.get() == INT64_MAX


def test_keyword_arguments():
    x = AtomicInt64(value=3)
    x.set(value=4)
    assert x.add(value=1) == 5
    assert x.fetch_add(value=1) == 5
    assert x.fetch_sub(value=1) == 6
    assert x.fetch_and(value=-1) == 5 and x.fetch_or(value=0) == 5 and x.fetch_xor(value=0) == 5
    assert x.exchange(value=9) == 5
    assert x.compare_exchange(expected=9, desired=1)
    f = AtomicFlag(value=True)
    f.set(value=False)
    assert f.compare_exchange(expected=False, desired=True)
    r = AtomicReference(obj="a")
    r.set(obj="b")
    assert r.exchange(obj="c") == "b"
    assert r.compare_exchange(expected=r.get(), obj="d")


class OnlyInt:  # has __int__ but is no integer: must not be truncated silently
    def __int__(self):
        return 7


BAD_TYPES = ["1", 1.5, None, [1], b"1", __import__("decimal").Decimal("1.5"),
             __import__("fractions").Fraction(3, 2), OnlyInt()]


@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
def test_type_errors(bad):
    x = AtomicInt64()
    for call in (AtomicInt64, x.set, x.add, x.fetch_add, x.fetch_sub, x.fetch_and,
                 x.fetch_or, x.fetch_xor, x.exchange, lambda v: x.compare_exchange(v, 1),
                 lambda v: x.compare_exchange(1, v)):
        with pytest.raises(TypeError):
            call(bad)
    for iop in INPLACE:
        with pytest.raises(TypeError):
            iop(x, bad)
    for op in (operator.add, operator.sub, operator.floordiv, operator.mod,
               operator.or_, operator.and_, operator.xor, operator.lshift):
        with pytest.raises(TypeError):
            op(x, bad)
    if isinstance(bad, (str, bytes, list)):
        # like an int, an AtomicInt64 repeats sequences: 0 * "1" == ""
        assert outcome(operator.mul, x, bad) == outcome(operator.mul, 0, bad)
    else:  # operands are ints only
        with pytest.raises(TypeError):
            x * bad
    assert x.get() == 0


@pytest.mark.parametrize("big", [2**63, -(2**63) - 1, 2**100])
def test_overflow_errors(big):
    x = AtomicInt64()
    with pytest.raises(OverflowError):
        AtomicInt64(big)
    for call in (x.set, x.add, x.fetch_add, x.fetch_sub, x.fetch_and, x.fetch_or,
                 x.fetch_xor, x.exchange, lambda v: x.compare_exchange(v, 1),
                 lambda v: x.compare_exchange(0, v)):
        with pytest.raises(OverflowError):
            call(big)
    for iop in INPLACE:
        with pytest.raises(OverflowError):
            iop(x, big)
    for op in (operator.add, operator.sub, operator.mul, operator.floordiv):
        with pytest.raises(OverflowError):
            op(x, big)
        with pytest.raises(OverflowError):
            op(big, x)
    assert x.get() == 0


def test_bool_and_int_subclasses_are_ints():
    class MyInt(int):
        pass

    x = AtomicInt64(True)
    assert x.get() == 1
    x += MyInt(4)
    assert x.get() == 5 and x + MyInt(1) == 6 and x.add(True) == 6


def test_division_by_zero():
    x = AtomicInt64(5)
    for op in (operator.floordiv, operator.mod, operator.ifloordiv, operator.imod):
        with pytest.raises(ZeroDivisionError):
            op(x, 0)
    assert x.get() == 5


def test_object_protocols():
    x = AtomicInt64(1)
    assert weakref.ref(x)() is x
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(x)
    with pytest.raises(TypeError):
        copy.deepcopy(x)
    with pytest.raises(TypeError):
        hash(x)

    class Counted(AtomicInt64):
        def incr(self):
            return super().incr() * 100

    c = Counted(1)
    assert c.incr() == 200  # the override wins over the fast path
    assert c.decr() == 1 and isinstance(c, AtomicInt64)


def test_incr_from_8_threads_is_exact(threads):
    x = AtomicInt64()

    def body(_):
        incr = x.incr
        for _ in range(100_000):
            incr()

    threads(8, body)
    assert x.get() == 800_000


def test_inplace_from_threads_is_exact(threads):
    x = AtomicInt64()

    def body(i):
        nonlocal x
        y = x
        for _ in range(20_000):
            y += 3
            y -= 1

    threads(8, body)
    assert x.get() == 8 * 20_000 * 2


def test_cas_loop_from_threads_is_exact(threads):
    x = AtomicInt64()

    def body(_):
        for _ in range(10_000):
            while True:
                v = x.get()
                if x.compare_exchange(v, v + 1):
                    break

    threads(4, body)
    assert x.get() == 40_000


# -- AtomicFlag ---------------------------------------------------------------

def test_flag_basics():
    f = AtomicFlag()
    assert not f and f.get() is False
    assert f.test_and_set() is False and f.test_and_set() is True and bool(f)
    f.clear()
    assert not f
    f.set(True)
    assert f.get() is True
    assert f.compare_exchange(True, False) and not f
    assert not f.compare_exchange(True, False)
    assert repr(AtomicFlag(True)) == "AtomicFlag(True)"
    assert weakref.ref(f)() is f
    with pytest.raises(TypeError):
        pickle.dumps(f)


def test_flag_test_and_set_is_mutual_exclusion(threads):
    f = AtomicFlag()
    count = [0]

    def body(_):
        for _ in range(5_000):
            while f.test_and_set():
                pass
            count[0] += 1  # protected by the flag
            f.clear()

    threads(4, body)
    assert count[0] == 20_000


# -- AtomicReference ------------------------------------------------------------

def test_reference_basics():
    a, b = [1], [1]
    r = AtomicReference(a)
    assert r.get() is a
    assert r.compare_exchange(b, "x") is False  # equal is not identical
    assert r.compare_exchange(a, b) is True and r.get() is b
    assert r.exchange(None) is b and r.get() is None
    assert r.compare_exchange(None, a) and r.get() is a
    r.set(None)
    assert r.get() is None
    assert repr(AtomicReference("s")) == "AtomicReference('s')"
    assert AtomicReference[int] is not None  # generic alias
    assert weakref.ref(r)() is r
    with pytest.raises(TypeError):
        pickle.dumps(r)


class Tracked:
    __slots__ = ("ident", "__weakref__")

    def __init__(self, ident):
        self.ident = ident


def test_replaced_objects_are_released_promptly():
    r = AtomicReference()
    o = Tracked(1)
    w = weakref.ref(o)
    r.set(o)
    del o
    assert w() is not None  # held by the reference
    r.set(Tracked(2))
    collect_if_pypy()
    assert w() is None  # released at once, no gc needed
    o3 = Tracked(3)
    w3 = weakref.ref(o3)
    r.compare_exchange(r.get(), o3)
    del o3
    r.exchange(None)
    collect_if_pypy()
    assert w3() is None


def test_reference_cycle_is_collectable():
    class Node:
        pass

    n = Node()
    n.ref = AtomicReference(n)
    w = weakref.ref(n)
    del n
    gc.collect()
    assert w() is None


def test_reference_exchange_and_cas_storm(threads):
    """8 threads pass 100,000 distinct objects through one reference.

    Every stored object must come out exactly once (by exchange or a
    successful CAS), except the last one still stored; none is freed while
    stored; all others are freed afterwards (counted with weakref callbacks).
    """
    total, nthreads = 100_000, 8
    per = total // nthreads
    r = AtomicReference()
    freed = []  # list.append is atomic
    lock = threading.Lock()
    out_ids: list[list[int]] = [[] for _ in range(nthreads)]
    refs = []

    def body(t):
        mine = out_ids[t]
        for k in range(per):
            o = Tracked(t * per + k)
            wr = weakref.ref(o, lambda _w, i=o.ident: freed.append(i))
            with lock:
                refs.append(wr)
            if k % 2:
                old = r.exchange(o)
                if old is not None:
                    mine.append(old.ident)
            else:
                while True:
                    cur = r.get()
                    if r.compare_exchange(cur, o):
                        if cur is not None:
                            mine.append(cur.ident)
                        break
            del o

    threads(nthreads, body)
    last = r.get()
    assert last is not None
    taken = [i for lst in out_ids for i in lst]
    assert len(taken) == len(set(taken)) == total - 1
    assert set(taken) | {last.ident} == set(range(total))
    gc.collect()
    assert last.ident not in freed  # never freed while stored
    assert sorted(freed) == sorted(taken)
    r.set(None)
    last_id = last.ident
    del last
    gc.collect()
    assert sorted(freed) == list(range(total)) and last_id in freed
