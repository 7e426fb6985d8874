#!/usr/bin/env bash
# Runs every VMP3 test. Installs the system packages the tests need (FFmpeg's libraries, LAME,
# the ffmpeg CLI that makes the test media, the RabbitMQ and Redis client libraries), starts the
# servers the networked backends are tested against on 127.0.0.1 (scripts/services.sh: Redis,
# RabbitMQ, an S3 server, an SMTP receiver) and stops them at the end, and runs the Swift test
# suite once, built with AddressSanitizer (in .build-asan): LeakSanitizer checks that every path
# the tests provoke (bad input, cancellation, SIGINT, a killed process) frees its C resources,
# and AddressSanitizer that no C interop reads or writes out of bounds. Any report fails the run.
# One build, one run: a second, unsanitized build and run of the same tests checked nothing the
# sanitized one does not, and cost 21 of a run's 53 minutes on 2 cores.
# The suite runs in two parts, one after the other, never side by side (see `heavy` below):
# first every suite that waits on a deadline (HTTP requests, heartbeats, timeouts, brokers'
# replies), eight tests at a time; then the suites that convert, fuzz or start whole deployments
# of processes, two at a time.
# Then the container test runs (Tests/Containers/run.sh: VMP3's image from the sanitized build's
# executables, the compose deployment on loopback with podman, a job through it, two converters,
# the Kubernetes manifests validated), beside it the DocC catalogues of the public modules are
# built from the same build (scripts/docs.sh; a broken symbol link fails the run) and the
# conversion fuzzer runs for VMP3_CI_FUZZ_SECONDS (default 120, built unoptimised;
# scripts/fuzz.sh): a crash, leak, hang or OOM it finds fails the run (all three skipped when the
# arguments filter the tests).
#
# Every test process runs a watchdog (Tests/VMP3TestSupport/CooperativePoolWatchdog.swift): a
# run in which Swift's cooperative pool was held up for over a second fails, with the stacks of
# the threads that held it.
#
# Usage: scripts/test.sh [swift test options, e.g. --filter ConversionTests]
set -euo pipefail
cd "$(dirname "$0")/.."
# Every stage's line starts with the minutes and seconds since the run began: a CI log shows
# where the time went.
say() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

command -v swift >/dev/null || { echo "VMP3 needs a Swift 6 toolchain on PATH (https://swift.org/install)" >&2; exit 1; }
scripts/install-system-packages.sh
say "System packages: installed"

# The suites that keep both cores busy for long: they convert (FFmpeg and LAME on every core),
# run the mutation corpus and the fuzzer's regressions, or start whole deployments of processes
# and restart brokers, or start dozens of VMP3's programs at once (the settings and readiness
# checks). Beside them, a deadline-bound test (an HTTP request's 20 s, a heartbeat, a
# retry's timeout) measured the machine's speed instead of the code: a slower machine failed
# them. So they run after the others, as a part of their own, at most VMP3_HEAVY_TESTS_AT_ONCE
# (default 2) at a time, and their own waits are bounded by the work they wait for.
heavy='\.(ConversionTests|ConversionFailureTests|SandboxedConverterTests|HostileInputTests|MutationCorpusTests|DownmixLevelTests|VideoFrameCoverTests|ChaptersAndCoverTests|LoudnessTests|SegmentedEncodingTests|SegmentSamplesTests|BitReservoirPackingTests|CLITests|ExampleTests|ServeCommandTests|GatewaySecurityEndToEndTests|ServicesEndToEndTests|ServeEndToEndTests|DownloadEndToEndTests|HostileUploadEndToEndTests|ConverterLimitSettingsTests|ConversionCacheEndToEndTests|WebPageEndToEndTests|ServeRestartTests|ServeConversionCacheTests|AMQPFaultTests|S3FaultTests|MalformedSettingsTests|MissingServerTests|LinkedLibrariesTests|ReadinessTests)/'
heavy_at_once=${VMP3_HEAVY_TESTS_AT_ONCE:-2}
# The others run VMP3_TESTS_AT_ONCE (default 8) at a time: all 200 at once queued so much work on
# Swift's two cooperative threads at start that the watchdog's heartbeat waited 7 to 11 s; eight
# at a time keep the queue short and finish sooner (50 s against 62).
light_at_once=${VMP3_TESTS_AT_ONCE:-8}

# Runs the suite in its two parts (or, with arguments, just what they ask for): $1 names the
# stage, the rest are options for every `swift test` of it.
run_suite() {
  local stage=$1; shift
  if [ ${#filters[@]} -gt 0 ]; then
    swift test --skip-build --disable-xctest "$@" "${filters[@]}"
    return
  fi
  local start=$SECONDS
  say "Tests ($stage): the deadline-bound suites, $light_at_once at a time"
  SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$light_at_once swift test --skip-build --disable-xctest "$@" --skip "$heavy"
  say "Tests ($stage): $((SECONDS - start)) s; now conversions, fuzz regressions and deployments, $heavy_at_once at a time"
  start=$SECONDS
  SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=$heavy_at_once swift test --skip-build --disable-xctest "$@" --filter "$heavy"
  say "Tests ($stage): $((SECONDS - start)) s"
}
filters=("$@")

scripts/services.sh start
trap 'scripts/services.sh stop' EXIT
eval "$(scripts/services.sh env)"
say "Services: started on 127.0.0.1"

# The build every stage uses: the tests', the container image's executables and DocC's symbol
# graphs. Its own scratch folder, so that a developer's unsanitized .build is left alone.
build_options=(--sanitize=address --scratch-path .build-asan)
# A small quarantine: ASan otherwise holds 256 MB of freed memory back, which the checks that
# memory stays flat while streaming large objects would count against the code under test.
# The processes the tests start (the services, `vmp3 serve`, the conversion child) are built
# the same way and inherit these.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=16
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0"

# The suite is Swift Testing only; --disable-xctest drops XCTest's empty "Executed 0 tests" run.
say "Tests: building with AddressSanitizer and LeakSanitizer"
swift build --build-tests "${build_options[@]}"
say "Tests: built"
run_suite "AddressSanitizer" "${build_options[@]}"

# A filtered run (arguments given) is a developer's quick check: no containers, documentation or
# fuzzing then.
if [ $# -eq 0 ]; then
  # The container test waits mostly on downloads, package installs and containers starting: it
  # runs beside the documentation build and the fuzzer (one core), its output kept until then.
  say "Containers (the image, compose on loopback, the Kubernetes manifests), in the background"
  mkdir -p .build-containers
  VMP3_CONTAINER_BINARIES=$(swift build "${build_options[@]}" --show-bin-path) Tests/Containers/run.sh > .build-containers/run.log 2>&1 &
  containers=$!
  say "Documentation (DocC, warnings are errors)"
  VMP3_DOCS_BUILD_OPTIONS="${build_options[*]}" scripts/docs.sh
  say "Fuzzing"
  # Unoptimised: it builds in 2.6 minutes instead of 5.5 and fuzzes for two minutes; long runs
  # are a developer's (scripts/fuzz.sh's default is release).
  VMP3_FUZZ_CONFIGURATION=${VMP3_FUZZ_CONFIGURATION:-debug} scripts/fuzz.sh "${VMP3_CI_FUZZ_SECONDS:-120}"
  say "Containers: waiting for the container test"
  containers_status=0
  wait "$containers" || containers_status=$?
  cat .build-containers/run.log >&2
  [ "$containers_status" -eq 0 ] || { say "Containers: the container test failed (exit $containers_status)"; exit 1; }
fi
say "All stages passed"
