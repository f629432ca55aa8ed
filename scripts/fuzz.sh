#!/usr/bin/env bash
# Fuzz the C API with libFuzzer (tests/fuzz/fuzz_api.c) under ASan+UBSan.
#
#   bash scripts/fuzz.sh [seconds]      default 60; FTKIT_FUZZ_SECONDS overrides
#   FTKIT_FUZZ_ARGS="-seed=1 -print_coverage=1"   extra libFuzzer flags
#
# Installs clang and its sanitizer/fuzzer runtime from Debian if no clang can
# link -fsanitize=fuzzer, builds libftkit's sources and the harness into
# build-fuzz/, and runs it for the given time on a copy of the seed corpus
# (tests/fuzz/corpus is never written). Prints the executions and their rate.
# Exits non-zero on any finding: a crash, sanitizer report, leak, hang
# (-timeout) or model mismatch; the reproducer is left in build-fuzz/.
# Reproduce one: build-fuzz/fuzz_api build-fuzz/artifacts/crash-<sha1>
# (FUZZ_TRACE=1 prints its ops; a failure prints the last ones anyway).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${FTKIT_FUZZ_SECONDS:-${1:-60}}
OUT=build-fuzz
log() { printf '== fuzz: %s\n' "$*" >&2; }

# A clang whose driver can link libFuzzer (its runtime is a separate Debian
# package, libclang-rt-<N>-dev, on bookworm and later).
probe() {
    local cc=$1
    command -v "$cc" >/dev/null 2>&1 || return 1
    local out
    out=$(mktemp) || return 1
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){(void)d;(void)n;return 0;}\n' |
        "$cc" -x c -fsanitize=fuzzer,address,undefined -o "$out" - >/dev/null 2>&1
    local ok=$?
    rm -f "$out"
    return $ok
}
find_cc() {
    local cc
    for cc in ${FTKIT_FUZZ_CC:-} clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
        if probe "$cc"; then echo "$cc"; return 0; fi
    done
    return 1
}

if ! CC=$(find_cc); then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    log "installing clang and its fuzzer runtime from Debian"
    $SUDO apt-get update -qq >&2
    ver=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1)
    pkgs=(clang)
    if [ -n "$ver" ] && apt-cache show "libclang-rt-$ver-dev" >/dev/null 2>&1; then
        pkgs+=("libclang-rt-$ver-dev")
    elif apt-cache show libclang-rt-dev >/dev/null 2>&1; then
        pkgs+=(libclang-rt-dev)
    fi
    $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
    CC=$(find_cc) || { log "no clang that links -fsanitize=fuzzer after installing ${pkgs[*]}"; exit 1; }
fi
log "compiler: $CC ($("$CC" --version | head -n1))"

mkdir -p "$OUT"
# One translation unit per source, linked with the harness: the library's
# hidden symbols do not matter in a static link.
SRCS=(c/src/*.c)
FLAGS=(-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -DFTKIT_BUILDING
       -Ic/include -Ic/src -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
BIN=$OUT/fuzz_api
log "building $BIN"
"$CC" "${FLAGS[@]}" -o "$BIN" "${SRCS[@]}" tests/fuzz/fuzz_api.c -lpthread

# Work on a copy of the corpus: new inputs go to build-fuzz/corpus only.
rm -rf "$OUT/corpus"
mkdir -p "$OUT/corpus" "$OUT/artifacts"
cp tests/fuzz/corpus/* "$OUT/corpus/"
rm -f "$OUT"/artifacts/*

log "running for ${SECS} s on $(ls "$OUT/corpus" | wc -l) seed inputs"
set +e
# -timeout: one input may not run longer (a hang is a finding);
# -rss_limit_mb: the harness's own tables are small, the library's must be too.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$BIN" -max_total_time="$SECS" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" ${FTKIT_FUZZ_ARGS:-} \
    "$OUT/corpus" >"$OUT/fuzz.log" 2>&1
rc=$?
set -e

# Summary: the final stats (executions, rate, coverage).
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz.log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$OUT/fuzz.log" | tail -n1)
last=$(grep -E '^#[0-9]+' "$OUT/fuzz.log" | tail -n1 || true)
echo "fuzz: ${execs:-?} executions in ${SECS} s (${rate:-?} exec/s); last status: ${last:-none}"
if [ $rc -ne 0 ] || ls "$OUT"/artifacts/* >/dev/null 2>&1; then
    echo "fuzz: FINDING (exit $rc); log tail:"
    tail -n 60 "$OUT/fuzz.log"
    ls -l "$OUT"/artifacts/ 2>/dev/null || true
    echo "reproduce: $BIN <artifact>"
    exit 1
fi
echo "fuzz: no findings"
