"""Every example in examples/ runs and succeeds, so none can rot.

(The code blocks of README.md and docs/*.md are run by test_docs.py; the Rust
example by tests/packaging/test_rust.py.)"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path):
    flags = [] if getattr(sys, "_is_gil_enabled", lambda: True)() else ["-X", "gil=0"]
    r = subprocess.run([sys.executable, *flags, str(path)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


def test_ctypes_example_needs_neither_cffi_nor_ftkit():
    """examples/ctypes_counter.py is for users who cannot install cffi: it
    must run with cffi and the ftkit package unimportable, given only the
    library's path."""
    import ftkit

    flags = [] if getattr(sys, "_is_gil_enabled", lambda: True)() else ["-X", "gil=0"]
    env = dict(os.environ, FTKIT_LIBRARY=ftkit.library_path)
    code = ("import runpy, sys\n"
            "sys.modules['cffi'] = sys.modules['_cffi_backend'] = sys.modules['ftkit'] = None\n"
            f"runpy.run_path({str(ROOT / 'examples' / 'ctypes_counter.py')!r}, run_name='__main__')\n"
            "assert not [m for m in sys.modules if m.startswith(('cffi', 'ftkit'))"
            " and sys.modules[m] is not None]\n")
    r = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok counter=80000 queue_sum=5025005000"), r.stdout
