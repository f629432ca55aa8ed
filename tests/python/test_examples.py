"""Every example in examples/ runs and succeeds, so none can rot."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path):
    flags = [] if getattr(sys, "_is_gil_enabled", lambda: True)() else ["-X", "gil=0"]
    r = subprocess.run([sys.executable, *flags, str(path)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


def test_readme_example_runs():
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "README has no python example"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
