"""A separate C project finds the installed libftkit with find_package(ftkit)
and with pkg-config, builds and runs."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSUMER = ROOT / "examples" / "c-consumer"


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)


_INSTALLED: Path | None = None


@pytest.fixture(scope="session")
def prefix(tmp_path_factory):
    """libftkit installed with `cmake --install --prefix P` into a prefix that
    differs from the configure-time CMAKE_INSTALL_PREFIX, as a packager or a
    user relocating the tree would: nothing installed may point back at the
    configure-time prefix (which never exists). test_rust.py imports this
    fixture; the install is made once per session either way."""
    global _INSTALLED
    if _INSTALLED is not None:
        return _INSTALLED
    base = tmp_path_factory.mktemp("install")
    build, prefix = base / "build", base / "prefix"
    configured = base / "configure-time-prefix"
    run(["cmake", "-S", ROOT, "-B", build, "-DFTKIT_BUILD_TESTS=OFF",
         "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_INSTALL_PREFIX={configured}"])
    run(["cmake", "--build", build])
    run(["cmake", "--install", build, "--prefix", prefix])
    assert not configured.exists()
    for f in prefix.rglob("*"):
        if f.is_file() and f.suffix in (".pc", ".cmake"):
            assert str(configured) not in f.read_text(), f"{f} names the configure-time prefix"
    _INSTALLED = prefix
    return prefix


def libdir(prefix: Path) -> Path:
    so = sorted(prefix.rglob("libftkit.so"))
    assert so, "libftkit.so was not installed"
    return so[0].parent


def test_install_layout(prefix):
    lib = libdir(prefix)
    assert (prefix / "include" / "ftkit.h").is_file()
    assert (prefix / "include" / "ftkit" / "atomic.h").is_file()
    assert (lib / "pkgconfig" / "ftkit.pc").is_file()
    assert (lib / "cmake" / "ftkit" / "ftkitConfig.cmake").is_file()
    assert (lib / "cmake" / "ftkit" / "ftkitConfigVersion.cmake").is_file()
    assert os.path.islink(lib / "libftkit.so")  # dev symlink -> SONAME -> real file
    soname = run(["objdump", "-p", lib / "libftkit.so"]).stdout
    assert "SONAME               libftkit.so.2" in soname


def test_find_package(prefix, tmp_path):
    build = tmp_path / "build"
    run(["cmake", "-S", CONSUMER, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", build])
    env = dict(os.environ, LD_LIBRARY_PATH=str(libdir(prefix)))
    out = run([build / "consumer"], env=env).stdout
    assert out.startswith("ok 400000")


def test_pkg_config(prefix, tmp_path):
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config not installed")
    env = dict(os.environ, PKG_CONFIG_PATH=str(libdir(prefix) / "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "ftkit"], env=env).stdout.split()
    assert any(f.startswith("-I") for f in flags) and "-lftkit" in flags
    # The flags point into the prefix given at install time (ftkit.pc is
    # relocatable), not at the configure-time prefix.
    incdirs = {Path(f[2:]).resolve() for f in flags if f.startswith("-I")}
    libdirs = {Path(f[2:]).resolve() for f in flags if f.startswith("-L")}
    assert (prefix / "include").resolve() in incdirs, flags
    assert libdir(prefix).resolve() in libdirs, flags
    exe = tmp_path / "consumer"
    cc = os.environ.get("CC") or shutil.which("cc") or "gcc"
    run([cc, "-std=c11", "-Wall", "-Werror", CONSUMER / "main.c", "-o", exe, *flags, "-pthread"])
    env["LD_LIBRARY_PATH"] = str(libdir(prefix))
    out = run([exe], env=env).stdout
    assert out.startswith("ok 400000")
