"""The C ABI as the binding sees it: exported symbols, declared functions,
bad input at the boundary, and a binding that cannot silently go stale."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ftkit
from ftkit._lib import ffi, lib

ROOT = Path(__file__).resolve().parents[2]
CDEF = (Path(ftkit.__file__).parent / "_cdef.h").read_text()
DECLARED = sorted(set(re.findall(r"\b(ftk_\w+)\s*\(", CDEF)))


def exported_symbols() -> list[tuple[str, str]]:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not installed")
    out = subprocess.run([nm, "-D", "--defined-only", ftkit.library_path],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            rows.append((parts[1], parts[2].split("@")[0]))
    return rows


def test_only_ftk_symbols_are_exported():
    names = [name for _, name in exported_symbols()]
    assert names, "no symbols exported?"
    stray = [n for n in names if not n.startswith("ftk_")]
    assert stray == []


def test_declared_and_exported_functions_match():
    exported = sorted(n for t, n in exported_symbols() if t == "T")
    assert exported == DECLARED


def test_declared_functions_are_callable_through_the_binding():
    for name in DECLARED:
        assert callable(getattr(lib, name)), name


def _bad_args(fn):
    """Arguments for fn that are all 'bad': NULL handles and pointers, zeros."""
    t = ffi.typeof(fn)
    args = []
    for a in t.args:
        if a.kind == "pointer":
            args.append(ffi.NULL)
        elif a.cname == "size_t":
            args.append(1)  # a count of 1 with a NULL array must be refused
        else:
            args.append(0)
    return args, t.result


# Functions that take no handle and whose zero/NULL call is legitimately OK.
_NO_HANDLE_OK = {
    "ftk_version", "ftk_version_string", "ftk_abi_version", "ftk_strerror", "ftk_err_name",
    "ftk_last_status", "ftk_last_result", "ftk_live_handles", "ftk_reclaim_collect", "ftk_slot_capacity",
    "ftk_slot_live_approx", "ftk_slot_is_live", "ftk_slot_alloc_v",
}


_ERROR_SENTINEL = {"ftk_map_lookup_v": lib.FTK_MAP_SEVERAL, "ftk_map_put_v": lib.FTK_MAP_SEVERAL}


@pytest.mark.parametrize("name", DECLARED)
def test_every_function_rejects_bad_input_without_crashing(name):
    """Every declared function is called with NULL handles/pointers and zeros:
    status-style functions return an error code (or a documented no-op), and
    value-style ones return 0 and record FTK_EBADHANDLE."""
    fn = getattr(lib, name)
    args, result = _bad_args(fn)
    r = fn(*args)
    if name == "ftk_slot_alloc_v":
        assert r != 0 and lib.ftk_slot_free(r) == 0
        return
    if name in _NO_HANDLE_OK:
        return
    if name.endswith("_free") and ffi.typeof(fn).args[0] is ffi.typeof("ftk_handle_t"):
        assert r == lib.FTK_OK  # freeing FTK_NULL_HANDLE is a no-op
        return
    if name.endswith("_v"):
        if result.cname != "void":
            # 0, or the documented "see ftk_last_status()" sentinel of a call
            # whose 0 means something else (ftk_map_lookup_v: 0 is a miss,
            # ftk_map_put_v: 0 is "added")
            assert r == _ERROR_SENTINEL.get(name, 0)
        assert lib.ftk_last_status() == lib.FTK_EBADHANDLE or name.startswith("ftk_slot")
        return
    assert r in (lib.FTK_EBADHANDLE, lib.FTK_EINVAL), (name, r)


def test_destroyed_and_wrong_kind_handles():
    out = ffi.new("ftk_handle_t *")
    assert lib.ftk_int64_new(7, out) == 0
    h = out[0]
    v = ffi.new("int64_t *")
    assert lib.ftk_int64_load(h, v) == 0 and v[0] == 7
    flag = ffi.new("int *")
    assert lib.ftk_flag_load(h, flag) == lib.FTK_EBADHANDLE  # wrong kind
    assert lib.ftk_int64_free(h) == 0
    assert lib.ftk_int64_load(h, v) == lib.FTK_EBADHANDLE  # destroyed
    assert lib.ftk_int64_free(h) == lib.FTK_EBADHANDLE  # double free
    garbage = ffi.cast("ftk_handle_t", 0x0123456789ABCDEF)
    assert lib.ftk_int64_load(garbage, v) == lib.FTK_EBADHANDLE
    assert lib.ftk_int64_load(ffi.cast("ftk_handle_t", 0x01000000FFFFFFFF), v) == lib.FTK_EBADHANDLE


def test_stale_binding_is_detected():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cdef.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_header_change_without_regeneration_fails_the_check(tmp_path):
    """Copy the generator and headers, change a public header, and the drift
    check must fail; regenerate, and it passes again."""
    work = tmp_path / "tree"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "gen_cdef.py", work / "scripts")
    shutil.copytree(ROOT / "c" / "include", work / "c" / "include")
    shutil.copytree(ROOT / "python" / "ftkit", work / "python" / "ftkit",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    gen = [sys.executable, str(work / "scripts" / "gen_cdef.py")]
    assert subprocess.run(gen + ["--check"], capture_output=True).returncode == 0
    hdr = work / "c" / "include" / "ftkit" / "atomic.h"
    hdr.write_text(hdr.read_text().replace(
        "#ifdef __cplusplus\n}\n#endif",
        "FTK_API int ftk_int64_is_new_api(ftk_handle_t h);\n#ifdef __cplusplus\n}\n#endif", 1))
    r = subprocess.run(gen + ["--check"], capture_output=True, text=True)
    assert r.returncode == 1 and "stale" in r.stderr
    assert subprocess.run(gen, capture_output=True).returncode == 0
    assert subprocess.run(gen + ["--check"], capture_output=True).returncode == 0
    assert "ftk_int64_is_new_api" in (work / "python" / "ftkit" / "_cdef.h").read_text()
