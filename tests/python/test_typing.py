"""The package's inline type information (it ships py.typed) checks clean."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PYPY

PKG = Path(__file__).resolve().parents[2] / "python" / "ftkit"


@pytest.mark.skipif(PYPY, reason="the PyPy lane installs no mypy: the GIL lane type-checks "
                    "the same files")
def test_package_is_typed_and_mypy_clean():
    assert (PKG / "py.typed").is_file()
    pytest.importorskip("mypy")
    r = subprocess.run([sys.executable, "-m", "mypy", "--ignore-missing-imports", str(PKG)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
