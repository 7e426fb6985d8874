#!/usr/bin/env bash
# Builds the DocC documentation of the public modules, failing on any warning (a broken symbol
# link, a doc comment naming a parameter that does not exist). The test command runs it.
#   scripts/docs.sh [OUTPUT_DIR]   (default .build/docs; one .doccarchive a module)
# One invocation of the plugin for all of them: it loads the package and builds the symbol graphs
# once, and converts the modules side by side (one invocation a module took twice as long).
# VMP3_DOCS_BUILD_OPTIONS: SwiftPM options of the build whose modules to document (the test
# command passes its own, `--sanitize=address --scratch-path .build-asan`, so that the symbol
# graphs come from the build it has just made instead of a second one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/docs}
mkdir -p "$out"
modules=(VMP3Core VMP3Sandbox VMP3MediaConverter VMP3Kit VMP3Auth VMP3Transport VMP3HTTP VMP3AuthHTTP VMP3SQLite VMP3Conformance)
targets=()
for module in "${modules[@]}"; do targets+=(--target "$module"); done
read -r -a build_options <<< "${VMP3_DOCS_BUILD_OPTIONS:-}"
swift package "${build_options[@]}" --disable-sandbox --allow-writing-to-directory "$out" generate-documentation \
  "${targets[@]}" --warnings-as-errors --output-path "$out" >"$out/docc.log" 2>&1 || {
    grep -E 'warning|error' "$out/docc.log" | head -40
    echo "docs: DocC failed (log: $out/docc.log)" >&2
    exit 1
  }
for module in "${modules[@]}"; do
  [ -d "$out/$module.doccarchive" ] || { echo "docs: $module: no archive in $out (log: $out/docc.log)" >&2; exit 1; }
  echo "docs: $module: $out/$module.doccarchive"
done
