"""LocalWrapper: every forwarded protocol, and the fixes over ft_utils.

Each protocol is checked against the same operation on the plain object: a
wrapper must be indistinguishable from what it wraps, except that in-place
operators rebind ``.wrapped`` and the wrapper stays.
"""
from __future__ import annotations

import array
import copy
import math
import operator
import pickle
import platform
import sys
import weakref

import pytest

from ftkit import LocalWrapper
from ftkit.local import LocalWrapper as LocalWrapperFromLocal

PYPY = platform.python_implementation() == "PyPy"

BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, divmod, operator.pow, operator.lshift, operator.rshift,
          operator.and_, operator.or_, operator.xor]
IN_PLACE = [(operator.iadd, operator.add), (operator.isub, operator.sub),
            (operator.imul, operator.mul), (operator.itruediv, operator.truediv),
            (operator.ifloordiv, operator.floordiv), (operator.imod, operator.mod),
            (operator.ipow, operator.pow), (operator.ilshift, operator.lshift),
            (operator.irshift, operator.rshift), (operator.iand, operator.and_),
            (operator.ior, operator.or_), (operator.ixor, operator.xor)]


def test_same_class_from_both_modules():
    assert LocalWrapper is LocalWrapperFromLocal


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_binary_operators_forward_both_ways(op):
    a, b = 7, 3
    assert op(LocalWrapper(a), b) == op(a, b)
    assert op(a, LocalWrapper(b)) == op(a, b)  # reflected
    assert op(LocalWrapper(a), LocalWrapper(b)) == op(a, b)
    w = LocalWrapper(a)
    op(w, b)
    assert w.wrapped == a  # a plain operator never changes the wrapper


def test_true_and_floor_division_do_not_mutate():
    w = LocalWrapper(7)
    assert w / 2 == 3.5 and w // 2 == 3 and 14 / w == 2.0 and 15 // w == 2
    assert w.wrapped == 7 and type(w.wrapped) is int
    assert type(w / 2) is float and type(w // 2) is int  # plain results, not wrappers


@pytest.mark.parametrize("iop,op", IN_PLACE, ids=lambda f: getattr(f, "__name__", ""))
def test_in_place_operators_rebind_wrapped(iop, op):
    w = LocalWrapper(12)
    same = iop(w, 5)
    assert same is w and type(w) is LocalWrapper
    assert w.wrapped == op(12, 5)


def test_in_place_on_mutable_keeps_identity():
    items = [1]
    w = LocalWrapper(items)
    w += [2]
    w *= 2
    assert w.wrapped is items and items == [1, 2, 1, 2]
    s = LocalWrapper({1})
    s |= LocalWrapper({2})  # the right-hand wrapper is unwrapped
    assert s.wrapped == {1, 2}


def test_matmul_forwarded():
    class M:
        def __matmul__(self, other):
            return ("matmul", other)

        def __rmatmul__(self, other):
            return ("rmatmul", other)

        def __imatmul__(self, other):
            return ("imatmul", other)

    m = M()
    assert LocalWrapper(m) @ 1 == ("matmul", 1)
    assert 1 @ LocalWrapper(m) == ("rmatmul", 1)
    w = LocalWrapper(m)
    w @= 2
    assert w.wrapped == ("imatmul", 2)


def test_three_argument_pow():
    # ft_utils-style code: pow with a modulus through the wrapper.
    assert pow(LocalWrapper(2), 3, 5) == 3
    assert pow(LocalWrapper(2), LocalWrapper(3), LocalWrapper(5)) == 3
    assert LocalWrapper(2).__pow__(3, 5) == 3
    assert LocalWrapper(3).__rpow__(2, 5) == 3
    if sys.version_info >= (3, 14):  # three-argument pow tries __rpow__ since 3.14
        assert pow(2, LocalWrapper(3), 5) == 3


@pytest.mark.parametrize("name", ["__add__", "__radd__", "__iadd__", "__eq__", "__lt__",
                                  "__divmod__", "__rdivmod__", "__and__"])
def test_extra_positional_argument_raises_type_error(name):
    # Before the fix the operator was a default argument, so a second argument
    # replaced it and the call failed with "'int' object is not callable".
    w = LocalWrapper(4)
    with pytest.raises(TypeError, match="positional argument"):
        getattr(w, name)(1, 2)
    assert w.wrapped == 4
    with pytest.raises(TypeError):
        (4).__add__(1, 2)  # what int does


def test_pow_rejects_a_fourth_argument():
    with pytest.raises(TypeError):
        LocalWrapper(2).__pow__(3, 5, 7)


def test_unsupported_operand_raises_type_error():
    with pytest.raises(TypeError):
        LocalWrapper(1) + "x"
    with pytest.raises(TypeError):
        "x" - LocalWrapper(1)


def test_unary_and_conversions():
    w = LocalWrapper(-3)
    assert (-w, +w, abs(w), ~w) == (3, -3, 3, 2)
    f = LocalWrapper(2.5)
    assert int(f) == 2 and float(LocalWrapper(2)) == 2.0 and complex(f) == 2.5
    assert round(f) == 2 and round(LocalWrapper(2.567), 2) == 2.57
    assert math.trunc(LocalWrapper(-2.5)) == -2
    assert math.floor(f) == 2 and math.ceil(f) == 3
    assert [10, 20, 30][LocalWrapper(1)] == 20  # __index__
    assert bytes(LocalWrapper(b"ab")) == b"ab"
    assert format(LocalWrapper(3.14159), ".2f") == "3.14"
    assert str(LocalWrapper("s")) == "s"
    assert bool(LocalWrapper(0)) is False and bool(LocalWrapper([1])) is True


def test_comparisons():
    w = LocalWrapper(5)
    assert w == 5 and 5 == w and w != 6 and w < 6 and w <= 5 and w > 4 and w >= 5
    assert 4 < w and w == LocalWrapper(5) and not (w < LocalWrapper(5))
    assert sorted([LocalWrapper(3), LocalWrapper(1), LocalWrapper(2)]) == [1, 2, 3]


def test_hash_is_the_wrapped_hash():
    assert hash(LocalWrapper("key")) == hash("key")
    assert LocalWrapper("key") in {"key": 1}
    d = {LocalWrapper(1): "a"}
    assert d[1] == "a"
    with pytest.raises(TypeError):
        hash(LocalWrapper([1]))  # unhashable wrapped, unhashable wrapper


def test_repr_like_ft_utils():
    assert repr(LocalWrapper([1, 2, 3])) == "<LocalWrapper: [1, 2, 3]>"
    assert repr(LocalWrapper("a")) == "<LocalWrapper: 'a'>"


def test_containers_and_items():
    d = {"a": 1}
    w = LocalWrapper(d)
    w["b"] = 2
    assert w["a"] == 1 and len(w) == 2 and "b" in w
    del w["a"]
    assert d == {"b": 2}
    lst = LocalWrapper([3, 1, 2])
    assert lst[1:] == [1, 2] and list(reversed(lst)) == [2, 1, 3]
    with pytest.raises(KeyError):
        w["missing"]


def test_iteration_and_next():
    assert list(LocalWrapper([1, 2])) == [1, 2]
    it = LocalWrapper(iter([1, 2]))
    assert next(it) == 1 and next(it) == 2
    with pytest.raises(StopIteration):
        next(it)
    # next() on a wrapper of a non-iterator raises TypeError (never crashes)
    with pytest.raises(TypeError):
        next(LocalWrapper([1]))


def test_attributes_and_calls():
    class Obj:
        x = 1

        def method(self, a, *, b=0):
            return a + b

    o = Obj()
    w = LocalWrapper(o)
    assert w.x == 1 and w.method(1, b=2) == 3
    w.y = 5
    assert o.y == 5
    del w.y
    assert not hasattr(o, "y")
    assert LocalWrapper(len)([1, 2]) == 2
    assert "method" in dir(w)


def test_wrapped_is_read_only():
    items = [1]
    w = LocalWrapper(items)
    assert w.wrapped is items
    with pytest.raises(AttributeError):
        w.wrapped = [2]
    with pytest.raises(AttributeError):
        del w.wrapped
    assert w.wrapped is items


def test_context_manager_forwarded():
    class Ctx:
        def __init__(self):
            self.log = []

        def __enter__(self):
            self.log.append("enter")
            return "value"

        def __exit__(self, *exc):
            self.log.append(exc[0])
            return True  # swallow

    c = Ctx()
    with LocalWrapper(c) as v:
        assert v == "value"
        raise KeyError
    assert c.log == ["enter", KeyError]


@pytest.mark.skipif(sys.version_info < (3, 12) or PYPY, reason="PEP 688 __buffer__ needs 3.12+")
def test_buffer_protocol():
    data = array.array("i", [1, 2, 3])
    m = memoryview(LocalWrapper(data))
    assert m.tolist() == [1, 2, 3]
    m[0] = 9
    assert data[0] == 9
    assert bytes(LocalWrapper(bytearray(b"xy"))) == b"xy"


def test_object_protocols():
    w = LocalWrapper([1])
    assert weakref.ref(w)() is w
    with pytest.raises(TypeError):
        pickle.dumps(w)
    with pytest.raises(TypeError):
        copy.deepcopy(w)

    class Sub(LocalWrapper):
        pass

    s = Sub(3)
    assert s + 1 == 4 and isinstance(s, LocalWrapper)


def test_a_wrapper_per_thread(threads):
    shared = {"n": 0}

    def body(i):
        w = LocalWrapper(shared)  # made by the thread that uses it
        return [w["n"] + i for _ in range(100)][-1]

    assert threads(4, body) == [0, 1, 2, 3]
