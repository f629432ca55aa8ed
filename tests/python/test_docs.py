"""The documentation is true when run.

Every fenced code block of README.md and docs/*.md is collected (new blocks and
new pages are picked up automatically) and handled by its info string:

* ```python: a complete program, run in a fresh interpreter of the kind
  running pytest (so both lanes: the GIL interpreter and free-threaded 3.13t
  with -X gil=0), from the repository root, with this session's
  FTKIT_LIBRARY/PYTHONPATH; it must exit 0 within the timeout. Use asserts to
  state results.
* ```c: a complete program with main(), compiled with -std=c11 -Wall -Wextra
  -Werror against c/include and the libftkit this session loaded, then run;
  it must exit 0.
* ```rust: a complete program, compiled with rustc against the same libftkit
  (skipped where rustc is missing) and run.
* ```sh / ```bash: shell commands shown, not run (they install things or take
  minutes). They must parse (`bash -n`), and every repository path they name
  (scripts/..., examples/..., docs/..., ...) must exist, so they cannot rot
  silently.
* ```text / ```console, or no info string: output and diagrams, not run. An
  untagged block that looks like code fails: tag it.
* Anything else fails: add a rule here first.

Fragments are not allowed: write a small complete program instead.
The API pages are also checked against the code: every public name of ftkit
(and every public method of each public class) appears in docs/python-api.md,
and every function exported by the C headers appears in docs/c-api.md.
"""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 120
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()

RUN = {"python", "c", "rust"}
SHELL = {"sh", "bash"}
SHOWN = {"text", "console", ""}
# Repository paths a shell block may name (build outputs are generated, not checked).
REPO_PATH = re.compile(r"(?<![\w./-])((?:scripts|examples|docs|tests|c|python|cmake|bench)/"
                       r"[\w./*-]*[\w*])")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    out: list[Block] = []
    lines = page.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)", lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{page.name}:{start + 1}: unclosed code fence"
        out.append(Block(page, start + 1, lang, "\n".join(body) + "\n"))
        i += 1
    return out


BLOCKS = [b for page in PAGES for b in blocks_of(page)]


def by_lang(*langs: str) -> list:
    return [pytest.param(b, id=b.id) for b in BLOCKS if b.lang in langs]


def test_pages_have_runnable_blocks():
    assert {b.page.name for b in BLOCKS if b.lang == "python"} >= {"README.md", "python-api.md"}
    assert {b.page.name for b in BLOCKS if b.lang == "c"} >= {"README.md", "c-api.md"}


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in BLOCKS])
def test_block_language_is_known(block):
    assert block.lang in RUN | SHELL | SHOWN, (
        f"{block.id}: code block tagged {block.lang!r}; tests/python/test_docs.py knows "
        f"{sorted(RUN | SHELL | SHOWN - {''})}")
    if block.lang == "":
        looks_like_code = "#include" in block.code or re.search(r";\s*$", block.code, re.M)
        try:
            ast.parse(block.code)
            looks_like_code = True
        except SyntaxError:
            pass
        assert not looks_like_code, (
            f"{block.id}: untagged block looks like code: tag it ```python or ```c "
            "(then it is run) or ```text (shown only)")


# ---- Python ---------------------------------------------------------------
@pytest.mark.parametrize("block", by_lang("python"))
def test_python_block_runs(block, tmp_path):
    src = tmp_path / f"{block.page.stem}_{block.line}.py"
    src.write_text(block.code)
    flags = ["-X", "gil=0"] if FREE_THREADED else []
    import ftkit

    # the library this session loaded, also for blocks that use it without ftkit (ctypes)
    env = dict(os.environ, FTKIT_LIBRARY=ftkit.library_path)
    if FREE_THREADED:
        env["PYTHON_GIL"] = "0"
    r = subprocess.run([sys.executable, *flags, str(src)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"{block.id} failed:\n{r.stdout}{r.stderr}"


# ---- C and Rust -----------------------------------------------------------
@pytest.fixture(scope="module")
def libdir() -> Path:
    import ftkit

    return Path(ftkit.library_path).resolve().parent


def lib_env(libdir: Path) -> dict:
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libdir),
                                                           env.get("LD_LIBRARY_PATH")]))
    return env


def compile_and_run(cmd: list, exe: Path, block: Block, libdir: Path) -> None:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"{block.id} does not compile:\n{r.stdout}{r.stderr}"
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=TIMEOUT,
                       env=lib_env(libdir))
    assert r.returncode == 0, f"{block.id} exited {r.returncode}:\n{r.stdout}{r.stderr}"


def needs_dev_link(libdir: Path, tmp_path: Path) -> Path:
    """A directory where -lftkit finds the loaded library at link time and
    its SONAME (libftkit.so.2) at run time, whatever its file name (a build
    tree and an install have the chain; a wheel has libftkit.so only)."""
    if (libdir / "libftkit.so").exists() and (libdir / "libftkit.so.2").exists():
        return libdir
    link = tmp_path / "lib"
    link.mkdir()
    import ftkit

    for name in ("libftkit.so", "libftkit.so.2"):
        (link / name).symlink_to(ftkit.library_path)
    return link


@pytest.mark.parametrize("block", by_lang("c"))
def test_c_block_compiles_and_runs(block, tmp_path, libdir):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    src, exe = tmp_path / "block.c", tmp_path / "block"
    src.write_text(block.code)
    ld = needs_dev_link(libdir, tmp_path)
    compile_and_run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'c' / 'include'}",
                     src, "-o", exe, f"-L{ld}", "-lftkit", "-pthread"], exe, block, ld)


@pytest.mark.parametrize("block", by_lang("rust"))
def test_rust_block_compiles_and_runs(block, tmp_path, libdir):
    rustc = shutil.which("rustc") or str(Path.home() / ".cargo" / "bin" / "rustc")
    if not Path(rustc).exists():
        pytest.skip("rustc not installed (tests/packaging/test_rust.py installs it in CI)")
    src, exe = tmp_path / "block.rs", tmp_path / "block"
    src.write_text(block.code)
    ld = needs_dev_link(libdir, tmp_path)
    compile_and_run([rustc, "--edition", "2021", "-D", "warnings", src, "-o", exe, "-L", ld,
                     "-l", "ftkit"], exe, block, ld)


# ---- shell ----------------------------------------------------------------
@pytest.mark.parametrize("block", by_lang(*SHELL))
def test_shell_block_parses_and_names_real_paths(block):
    r = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
    assert r.returncode == 0, f"{block.id}: not valid shell:\n{r.stderr}"
    code = re.sub(r"#[^\n]*", "", block.code)  # comments may name anything
    for path in REPO_PATH.findall(code):
        hits = list(ROOT.glob(path)) if "*" in path else [ROOT / path]
        # dist/ and build*/ hold generated files; everything else must exist now
        assert any(p.exists() for p in hits), f"{block.id}: names {path}, which does not exist"


# ---- the API pages against the code ---------------------------------------
def public_names() -> dict[str, list[str]]:
    """ftkit.__all__, each with the public attributes its class defines (not
    those inherited from builtins)."""
    import ftkit

    out: dict[str, list[str]] = {}
    for name in ftkit.__all__:
        obj = getattr(ftkit, name)
        members: set[str] = set()
        if isinstance(obj, type):
            for klass in obj.__mro__:
                if klass.__module__.split(".")[0] == "ftkit":
                    members |= {m for m in vars(klass) if not m.startswith("_")}
        out[name] = sorted(members)
    return out


def test_python_api_page_names_every_public_name():
    text = (ROOT / "docs" / "python-api.md").read_text()
    missing = []
    for name, members in public_names().items():
        if not re.search(rf"(?<![\w.]){re.escape(name)}\b", text):
            missing.append(name)
        missing += [f"{name}.{m}" for m in members if not re.search(rf"\b{m}\b", text)]
    assert not missing, f"docs/python-api.md does not mention: {', '.join(missing)}"


def test_python_api_page_has_the_issue_names():
    """The names the first version of the page left out."""
    names = public_names()
    for cls, member in [("ConcurrentDict", "popitem"), ("ConcurrentDict", "update"),
                        ("ConcurrentDict", "as_dict"), ("StdConcurrentQueue", "put_nowait"),
                        ("StdConcurrentQueue", "get_nowait"), ("StdConcurrentQueue", "qsize")]:
        assert member in names[cls]


def exported_c_functions() -> list[str]:
    names = []
    for header in sorted((ROOT / "c" / "include").rglob("*.h")):
        names += re.findall(r"\bFTK_API\b[^;(]*?\b(ftk_\w+)\s*\(", header.read_text())
    return names


def test_c_api_page_names_every_exported_function():
    names = exported_c_functions()
    assert len(names) > 50, names
    text = (ROOT / "docs" / "c-api.md").read_text()
    missing = [n for n in names if not re.search(rf"\b{n}\b", text)]
    assert not missing, f"docs/c-api.md does not document: {', '.join(missing)}"
