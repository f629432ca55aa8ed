"""The loader, versions and the status -> exception table."""
from __future__ import annotations

import os
import queue
import subprocess
import sys

import pytest

import ftkit
from ftkit import _lib
from ftkit._lib import ffi, lib


def test_versions_agree():
    assert ftkit.__version__ == ffi.string(lib.ftk_version_string()).decode()
    major, minor, patch = (int(x) for x in ftkit.__version__.split("."))
    assert lib.ftk_version() == (major << 16) | (minor << 8) | patch
    assert lib.ftk_abi_version() == ftkit.ABI_VERSION == lib.FTK_ABI_VERSION


def test_library_path_is_absolute_file():
    assert os.path.isabs(ftkit.library_path)
    assert os.path.isfile(ftkit.library_path)


@pytest.mark.parametrize("code", range(-13, 1))
def test_every_status_has_a_name_and_message(code):
    assert _lib.status_name(code).startswith("FTK_")
    assert ffi.string(lib.ftk_strerror(code)).decode() != "unknown status code"


@pytest.mark.parametrize("code", [1, 7, -14, -100, 2**31 - 1, -(2**31)])
def test_unknown_status_codes(code):
    assert _lib.status_name(code) == "FTK_UNKNOWN"
    assert ffi.string(lib.ftk_strerror(code)).decode() == "unknown status code"
    with pytest.raises(ftkit.FtkitError) as info:
        _lib.raise_status(code)
    assert info.value.status == code


@pytest.mark.parametrize("code,exc", [
    (lib.FTK_EEMPTY, queue.Empty), (lib.FTK_EFULL, queue.Full),
    (lib.FTK_ETIMEDOUT, TimeoutError), (lib.FTK_ECLOSED, ftkit.ShutDown),
    (lib.FTK_ENOMEM, MemoryError), (lib.FTK_EBADHANDLE, ftkit.BadHandleError),
    (lib.FTK_EBADHANDLE, ValueError), (lib.FTK_EOVERFLOW, OverflowError),
    (lib.FTK_EINVAL, ValueError), (lib.FTK_EPERM, RuntimeError),
    (lib.FTK_ENOTFOUND, KeyError), (lib.FTK_EINTR, InterruptedError),
])
def test_status_maps_to_exception(code, exc):
    with pytest.raises(exc):
        _lib.raise_status(code, "doing something")
    # status_error builds the same exception without raising it
    assert isinstance(_lib.status_error(code, "doing something"), exc)


def test_status_messages_name_the_operation_and_the_object():
    with pytest.raises(ftkit.BadHandleError, match=r"^pop: the ConcurrentDeque is closed$") as info:
        _lib.raise_status(lib.FTK_EBADHANDLE, "pop", "ConcurrentDeque")
    assert info.value.status == lib.FTK_EBADHANDLE and info.value.name == "FTK_EBADHANDLE"
    with pytest.raises(ftkit.ShutDown, match=r"^put: the queue is shut down$"):
        _lib.raise_status(lib.FTK_ECLOSED, "put", "queue")
    # codes without a message of their own use libftkit's text
    text = ffi.string(lib.ftk_strerror(lib.FTK_EINVAL)).decode()
    assert str(_lib.status_error(lib.FTK_EINVAL)) == text
    assert str(_lib.status_error(lib.FTK_EINVAL, "x")) == f"x: {text}"


def _import_with(env_update):
    env = dict(os.environ)
    env.update(env_update)
    return subprocess.run([sys.executable, "-c", "import ftkit; print(ftkit.library_path)"],
                          env=env, capture_output=True, text=True)


def test_loader_rejects_missing_override(tmp_path):
    r = _import_with({"FTKIT_LIBRARY": str(tmp_path / "nope.so")})
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "nope.so" in r.stderr


def test_loader_rejects_a_library_that_is_not_libftkit(tmp_path):
    bogus = tmp_path / "libbogus.so"
    bogus.write_bytes(b"not an ELF file")
    r = _import_with({"FTKIT_LIBRARY": str(bogus)})
    assert r.returncode != 0
    assert "ImportError" in r.stderr and str(bogus) in r.stderr


def test_loader_refuses_other_abi_version(tmp_path):
    """A real shared library exporting a different ftk_abi_version is refused,
    and the ImportError names its path."""
    import shutil

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build a fake library")
    src = tmp_path / "fake.c"
    src.write_text("int ftk_abi_version(void) { return 999; }\n")
    so = tmp_path / "libftkit_fake.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    r = _import_with({"FTKIT_LIBRARY": str(so)})
    assert r.returncode != 0
    assert "ABI version 999" in r.stderr and str(so) in r.stderr


def test_loader_uses_override(tmp_path):
    r = _import_with({"FTKIT_LIBRARY": ftkit.library_path})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ftkit.library_path


def test_main_module_reports_gil_state():
    r = subprocess.run([sys.executable, "-m", "ftkit", "--info"], capture_output=True,
                       text=True, check=True)
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    assert f"GIL          {'enabled' if gil else 'disabled'}" in r.stdout
    assert ftkit.library_path in r.stdout
