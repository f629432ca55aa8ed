"""Build the wheel once; install that same file into fresh virtual
environments of the GIL interpreter, of free-threaded 3.13t and of PyPy (its
built-in cffi) with no C compiler reachable, then import and use it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FT_PY = os.environ.get("FTKIT_FT_PY")
PYPY = os.environ.get("FTKIT_PYPY")

USE = r"""
import shutil, sys, threading, ftkit
from ftkit import AtomicInt64, AtomicReference
assert shutil.which("cc") is None and shutil.which("gcc") is None, "a compiler is reachable"
assert ftkit.library_path.startswith(sys.prefix), ftkit.library_path
n = AtomicInt64()
def work():
    for _ in range(20000):
        n.incr()
ts = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
assert n.get() == 80000, n.get()
r = AtomicReference("x"); assert r.exchange("y") == "x" and r.get() == "y"
gil = getattr(sys, "_is_gil_enabled", lambda: True)()
print("ok", ftkit.__version__, "gil", "on" if gil else "off", sys.implementation.name,
      ftkit.library_path)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                    "-q", "-w", str(out), str(ROOT)], check=True)
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_is_py3_none_platform(wheel):
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert re.fullmatch(rf"ftkit-[\d.]+-py3-none-{re.escape(plat)}\.whl", wheel.name), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("ftkit/libftkit.so", "ftkit/_ffi.py", "ftkit/py.typed", "ftkit/__init__.py",
                   "ftkit/include/ftkit.h"):
        assert needed in names
    assert not [n for n in names if n.endswith((".c", ".pyc"))]


def clean_env(venv: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FTKIT_LIBRARY", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # No compiler reachable: only the venv's own scripts are on PATH.
    env["PATH"] = str(venv / "bin")
    env["CC"] = env["CXX"] = "false"
    return env


INTERPRETERS = [pytest.param(sys.executable, [], id="gil")]
if FT_PY:
    INTERPRETERS.append(pytest.param(FT_PY, ["-X", "gil=0"], id="free-threaded"))
elif os.environ.get("CI"):
    # scripts/test.sh always provides the free-threaded lane; without it this
    # test would silently check one interpreter only.
    raise RuntimeError("FTKIT_FT_PY is not set: run through scripts/test.sh")
if PYPY:
    INTERPRETERS.append(pytest.param(PYPY, [], id="pypy"))
elif os.environ.get("CI"):
    raise RuntimeError("FTKIT_PYPY is not set: run through scripts/test.sh")


@pytest.mark.parametrize("python,flags", INTERPRETERS)
def test_install_and_use_without_compiler(wheel, python, flags, tmp_path):
    venv = tmp_path / "venv"
    # cffi comes from the interpreter's own site-packages (the 3.13t lane has
    # a cffi built for it; PyPy's is built in, and the wheel's cffi requirement
    # excludes PyPy); --no-index proves nothing is fetched or built.
    subprocess.run([python, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = clean_env(venv)
    vpy = venv / "bin" / "python"
    subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--no-index", str(wheel)],
                   check=True, env=env, cwd=tmp_path)
    r = subprocess.run([str(vpy), *flags, "-c", USE], env=env, cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")
    if flags:
        assert " gil off " in r.stdout
    if python == PYPY:
        assert " pypy " in r.stdout, r.stdout
