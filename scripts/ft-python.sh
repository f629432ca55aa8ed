#!/usr/bin/env bash
# Provide a free-threaded CPython 3.13t (GIL disabled) with cffi and pytest.
#
# The package registries reachable here carry no free-threaded CPython, so we
# build Debian trixie's python3.13 upstream source with --disable-gil. The
# result is cached outside the repository (default ~/.cache/ftkit) so a second
# run costs only a version check. Prints the interpreter path on stdout as its
# last line; everything else goes to stderr.
#
# cffi officially supports free-threading from 3.14t on and its setup.py
# refuses 3.13t; we lift that one check and build it anyway. This is a *test
# lane* for our own races, not a supported user configuration.
set -euo pipefail

CACHE=${FTKIT_CACHE:-$HOME/.cache/ftkit}
PREFIX=$CACHE/python3.13t
PY=$PREFIX/bin/python3.13t
CFFI_VERSION=${FTKIT_FT_CFFI_VERSION:-2.0.0}
log() { printf 'ft-python: %s\n' "$*" >&2; }

ready() {
    [ -x "$PY" ] && "$PY" -X gil=0 -c '
import sys, cffi, pytest
assert not sys._is_gil_enabled(), "GIL is enabled"
' >/dev/null 2>&1
}

if ready; then echo "$PY"; exit 0; fi

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

build_interpreter() {
    log "building CPython 3.13t into $PREFIX (a few minutes)"
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq build-essential pkg-config xz-utils libssl-dev \
        libffi-dev zlib1g-dev libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev \
        libncurses-dev libgdbm-dev uuid-dev >&2

    work=$CACHE/src
    rm -rf "$work"; mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
    # A private apt configuration: one deb-src entry for trixie on the same
    # mirror the machine already uses, so the system's apt state is untouched.
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')
    [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')
    [ -n "$uri" ] || { log "cannot find a Debian mirror in the apt sources"; exit 1; }
    cat > "$work/apt/sources.list" <<SRC
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main
SRC
    aptopts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
             -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
             -o "APT::Sandbox::User=root")
    apt-get "${aptopts[@]}" update -qq >&2
    (cd "$work" && apt-get "${aptopts[@]}" source --download-only python3.13 >&2)
    orig=$(ls "$work"/python3.13_*.orig.tar.xz | head -n1)
    tar -C "$work" -xf "$orig"
    srcdir=$(find "$work" -maxdepth 1 -type d -name 'Python-3.13*' | head -n1)
    (cd "$srcdir" && ./configure --quiet --prefix="$PREFIX" --disable-gil \
            --with-ensurepip=install >&2 \
        && make -s -j"$(nproc)" >&2 && make -s install >&2)
    rm -rf "$work"
}

[ -x "$PY" ] || build_interpreter

"$PY" -m pip install -q --upgrade pip >&2 || true
"$PY" -m pip install -q pycparser pytest setuptools wheel >&2
if ! "$PY" -c 'import cffi' 2>/dev/null; then
    log "building cffi $CFFI_VERSION from its sdist for 3.13t"
    tmp=$(mktemp -d)
    # Download with the host interpreter: preparing the sdist's metadata under
    # 3.13t would already hit the version check we are about to lift.
    python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "cffi==$CFFI_VERSION" >&2
    tar -C "$tmp" -xzf "$tmp"/cffi-*.tar.gz
    src=$(find "$tmp" -maxdepth 1 -type d -name 'cffi-*' | head -n1)
    # Lift the one check that refuses free-threaded 3.13.
    "$PY" - "$src/setup.py" <<'PYEOF'
import re, sys
p = sys.argv[1]; s = open(p).read()
s2 = re.sub(r"if (.*?)sys\.version_info\s*<\s*\(3,\s*14\)(.*?):", r"if False:", s)
open(p, "w").write(s2)
PYEOF
    "$PY" -m pip install -q --no-build-isolation "$src" >&2
    rm -rf "$tmp"
fi
ready || { log "3.13t is not usable with the GIL disabled"; exit 1; }
echo "$PY"
