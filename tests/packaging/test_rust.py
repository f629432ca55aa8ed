"""A Rust program (examples/rust, no crates: hand-written extern "C"
declarations) shares an ftk_queue and an ftk_int64 between threads, linked
against the installed libftkit found through pkg-config, as a Rust user of an
installed ftkit would build it. Built with cargo (build.rs runs the
pkg-config command) and with plain rustc (-L from pkg-config)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_consumer import libdir, prefix, run  # noqa: F401  (prefix: the shared install fixture)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "rust"
CARGO_BIN = Path.home() / ".cargo" / "bin"


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found is None and (CARGO_BIN / name).is_file():
        found = str(CARGO_BIN / name)  # rustup's default place, often not on PATH
    return found


def install_rust() -> None:
    """A fresh machine without Rust: Debian's rustc and cargo (1.63 or later
    is enough: the example uses nothing newer than std::thread::scope)."""
    if shutil.which("apt-get") is None:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "rustc", "cargo"], env=env,
                   capture_output=True, timeout=900)


@pytest.fixture(scope="module")
def tools():
    cargo, rustc = find_tool("cargo"), find_tool("rustc")
    if cargo is None and rustc is None:
        install_rust()
        cargo, rustc = find_tool("cargo"), find_tool("rustc")
    if cargo is None and rustc is None:
        pytest.skip("neither rustc nor cargo is installed, and `apt-get install rustc cargo` "
                    "failed: cannot build examples/rust")
    return {"cargo": cargo, "rustc": rustc}


def pc_env(prefix: Path) -> dict:
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir(prefix) / "pkgconfig"))
    env.pop("FTKIT_LIB_DIR", None)
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config not installed")
    return env


def check_output(out: str) -> None:
    # 4 producers x 50,000 words; the counter holds 4 x (1 + ... + 50,000)
    assert out.startswith("ok 200000 5000100000 "), out


def test_cargo_build_through_pkg_config(tools, prefix, tmp_path):  # noqa: F811
    if tools["cargo"] is None:
        pytest.skip("cargo not installed (rustc is: see test_rustc_with_pkg_config_flags)")
    env = pc_env(prefix)
    env["CARGO_TARGET_DIR"] = str(tmp_path / "target")
    env["PATH"] = os.pathsep.join([str(Path(tools["cargo"]).parent), env.get("PATH", "")])
    src = tmp_path / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    # No dependencies: --offline proves nothing is fetched from a registry.
    r = subprocess.run([tools["cargo"], "build", "--release", "--offline", "--quiet"],
                       cwd=src, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = tmp_path / "target" / "release" / "ftkit-rust-example"
    # build.rs set an rpath from pkg-config's -L: no LD_LIBRARY_PATH needed.
    env.pop("LD_LIBRARY_PATH", None)
    check_output(run([exe], env=env, timeout=300).stdout)


def test_rustc_with_pkg_config_flags(tools, prefix, tmp_path):  # noqa: F811
    if tools["rustc"] is None:
        pytest.skip("rustc not installed")
    env = pc_env(prefix)
    flags = run(["pkg-config", "--libs-only-L", "ftkit"], env=env).stdout.split()
    assert flags and all(f.startswith("-L") for f in flags), flags
    exe = tmp_path / "ftkit-rust"
    run([tools["rustc"], "--edition", "2021", "-O", "-D", "warnings", EXAMPLE / "src" / "main.rs",
         "-o", exe, *flags], env=env, timeout=600)
    env["LD_LIBRARY_PATH"] = str(libdir(prefix))
    check_output(run([exe], env=env, timeout=300).stdout)
