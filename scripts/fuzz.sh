#!/usr/bin/env bash
# Fuzzes the conversion core: builds the libFuzzer target vmp3-fuzz-conversion (with
# AddressSanitizer and LeakSanitizer) and runs it on arbitrary bytes, seeded with small real media
# of twenty containers and codecs (scripts/make-media-corpus.sh) and the regression inputs of
# earlier findings (Tests/VMP3KitTests/Fixtures/FuzzRegressions). Every input goes through the
# same open/probe/decode/resample/encode path as an upload.
#
# Usage: scripts/fuzz.sh [SECONDS] [libFuzzer options...]
#   SECONDS  how long to fuzz (default 300); CI runs a few minutes, longer runs are for a
#            developer's machine, e.g. `scripts/fuzz.sh 14400 -fork=1 -ignore_crashes=1`
#            to keep going past findings.
# Findings (crash-*, leak-*, timeout-*, oom-*) are written to $VMP3_FUZZ_DIR/artifacts
# (default .fuzz/artifacts); the corpus the fuzzer grew stays in $VMP3_FUZZ_DIR/corpus for the
# next run. Reproduce one with `.build-fuzz/release/vmp3-fuzz-conversion FILE`, or without
# libFuzzer: `swift run vmp3-fuzz-conversion FILE`. Exit status: libFuzzer's (0: nothing found).
# VMP3_FUZZ_CONFIGURATION=debug builds it unoptimised: it fuzzes a few times slower, but builds in
# half the time, which is what a CI run of a few minutes wants (scripts/test.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true

command -v swift >/dev/null || { echo "VMP3 needs a Swift 6 toolchain on PATH (https://swift.org/install)" >&2; exit 1; }
scripts/install-system-packages.sh

# Swift's -sanitize=fuzzer links libFuzzer's own main, which SwiftPM's renamed entry point
# cannot coexist with: instrument for libFuzzer by hand and link the runtime without its main
# (the target's main calls LLVMFuzzerRunDriver).
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
runtime="$toolchain/lib/swift/clang/lib/linux/libclang_rt.fuzzer_no_main-$(uname -m).a"
[ -f "$runtime" ] || { echo "libFuzzer's runtime is not in this toolchain: $runtime" >&2; exit 1; }
configuration=${VMP3_FUZZ_CONFIGURATION:-release}
echo "== Building the conversion fuzzer ($configuration)" >&2
swift build --product vmp3-fuzz-conversion -c "$configuration" --scratch-path .build-fuzz \
  -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
  -Xswiftc -DVMP3_FUZZ -Xlinker "$runtime" -Xlinker -lstdc++

work=${VMP3_FUZZ_DIR:-.fuzz}
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
scripts/make-media-corpus.sh "$work/seeds"
cp Tests/VMP3KitTests/Fixtures/FuzzRegressions/* "$work/seeds/" 2>/dev/null || true

echo "== Fuzzing the conversion core for $seconds s" >&2
# swift-backtrace would take over the crash signals that libFuzzer reports (and saves the input) on.
SWIFT_BACKTRACE=enable=no \
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0" \
  ".build-fuzz/$configuration/vmp3-fuzz-conversion" \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=131072 \
    -dict=Tests/Fuzz/media.dict -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$@" \
    "$work/corpus" "$work/seeds"
