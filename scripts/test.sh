#!/usr/bin/env bash
# Runs every VMP3 test. Installs the system packages the tests need (FFmpeg's libraries, LAME,
# and the ffmpeg CLI that makes the test media), then builds and runs the Swift test suite.
#
# Usage: scripts/test.sh [swift test options, e.g. --filter ConversionTests]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v swift >/dev/null || { echo "VMP3 needs a Swift 6 toolchain on PATH (https://swift.org/install)" >&2; exit 1; }
scripts/install-system-packages.sh

swift build --build-tests
# The suite is Swift Testing only; --disable-xctest drops XCTest's empty "Executed 0 tests" run.
swift test --skip-build --disable-xctest "$@"
