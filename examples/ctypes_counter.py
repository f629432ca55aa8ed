"""Use libftkit from Python with nothing but the standard library's ctypes.

For programs that cannot install cffi (or the ftkit package): declare the C
functions you call, load libftkit.so, and share its objects between threads.
Here four threads bump one atomic counter, and producers and consumers pass
integers through one bounded queue; every result is checked.

Run: FTKIT_LIBRARY=build/libftkit.so python examples/ctypes_counter.py
(without FTKIT_LIBRARY it looks for an installed ftkit wheel's library, then
the system library path.) ctypes releases the GIL during each foreign call,
so this also runs with the GIL on; on free-threaded builds use -X gil=0.
"""
import ctypes
import ctypes.util
import importlib.util
import os
import threading

FTK_OK, FTK_ECLOSED, FTK_EBADHANDLE = 0, -4, -6
FTK_ABI_VERSION = 2
WAIT_FOREVER = -1


def find_library() -> str:
    path = os.environ.get("FTKIT_LIBRARY")
    if path:
        return path
    try:  # an installed ftkit wheel carries the .so (ftkit is not imported)
        spec = importlib.util.find_spec("ftkit")
    except (ImportError, ValueError):
        spec = None
    if spec and spec.origin:
        bundled = os.path.join(os.path.dirname(spec.origin), "libftkit.so")
        if os.path.exists(bundled):
            return bundled
    found = ctypes.util.find_library("ftkit")  # e.g. after `cmake --install`
    if not found:
        raise SystemExit("libftkit not found: set FTKIT_LIBRARY=/path/to/libftkit.so")
    return found


lib = ctypes.CDLL(find_library())

# The declarations: one line per C function used (from c/include/ftkit/*.h).
# ftk_handle_t is an opaque pointer: c_void_p.
Handle, HandleOut = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
i64, u64 = ctypes.c_int64, ctypes.c_uint64
for name, restype, argtypes in [
    ("ftk_abi_version", ctypes.c_int, []),
    ("ftk_err_name", ctypes.c_char_p, [ctypes.c_int]),
    ("ftk_int64_new", ctypes.c_int, [i64, HandleOut]),
    ("ftk_int64_free", ctypes.c_int, [Handle]),
    ("ftk_int64_add_v", i64, [Handle, i64]),
    ("ftk_int64_load", ctypes.c_int, [Handle, ctypes.POINTER(i64)]),
    ("ftk_queue_new", ctypes.c_int, [ctypes.c_size_t, HandleOut]),
    ("ftk_queue_free", ctypes.c_int, [Handle]),
    ("ftk_queue_push", ctypes.c_int, [Handle, u64, i64]),
    ("ftk_queue_pop", ctypes.c_int, [Handle, ctypes.POINTER(u64), i64]),
    ("ftk_queue_close", ctypes.c_int, [Handle, ctypes.c_int]),
]:
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = restype, argtypes


def check(status: int, what: str) -> None:
    if status != FTK_OK:
        raise RuntimeError(f"{what}: {lib.ftk_err_name(status).decode()}")


def new(ctor, arg) -> ctypes.c_void_p:
    h = ctypes.c_void_p()
    check(ctor(arg, ctypes.byref(h)), ctor.__name__)
    return h


assert lib.ftk_abi_version() == FTK_ABI_VERSION, "libftkit has another ABI version"

# 1. A shared atomic counter.
counter = new(lib.ftk_int64_new, 0)


def bump(n: int) -> None:
    add = lib.ftk_int64_add_v
    for _ in range(n):
        add(counter, 1)


threads = [threading.Thread(target=bump, args=(20_000,)) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
value = i64()
check(lib.ftk_int64_load(counter, ctypes.byref(value)), "ftk_int64_load")
assert value.value == 80_000, value.value

# 2. A bounded queue of integers: 2 producers, 2 consumers, graceful close.
queue = new(lib.ftk_queue_new, 16)
totals = [0, 0]


def produce(base: int) -> None:
    for i in range(1, 5_001):
        check(lib.ftk_queue_push(queue, base + i, WAIT_FOREVER), "ftk_queue_push")


def consume(k: int) -> None:
    word = u64()
    while True:
        st = lib.ftk_queue_pop(queue, ctypes.byref(word), WAIT_FOREVER)
        if st == FTK_ECLOSED:  # closed and empty
            return
        check(st, "ftk_queue_pop")
        totals[k] += word.value


consumers = [threading.Thread(target=consume, args=(k,)) for k in range(2)]
producers = [threading.Thread(target=produce, args=(base,)) for base in (0, 1_000_000)]
for t in consumers + producers:
    t.start()
for t in producers:
    t.join()
check(lib.ftk_queue_close(queue, 0), "ftk_queue_close")
for t in consumers:
    t.join()
expected = 2 * sum(range(1, 5_001)) + 5_000 * 1_000_000
assert sum(totals) == expected, (sum(totals), expected)

# 3. Free; a destroyed handle is refused with a status code, never a crash.
check(lib.ftk_queue_free(queue), "ftk_queue_free")
check(lib.ftk_int64_free(counter), "ftk_int64_free")
assert lib.ftk_int64_load(counter, ctypes.byref(value)) == FTK_EBADHANDLE
print(f"ok counter={value.value} queue_sum={sum(totals)}")
