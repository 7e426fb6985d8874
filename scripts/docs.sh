#!/usr/bin/env bash
# Builds the DocC documentation of the public modules, failing on any warning (a broken symbol
# link, a doc comment naming a parameter that does not exist). The test command runs it.
#   scripts/docs.sh [OUTPUT_DIR]   (default .build/docs; one .doccarchive a module)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.build/docs}
mkdir -p "$out"
modules=(VMP3Core VMP3MediaConverter VMP3Kit VMP3Auth VMP3Transport VMP3HTTP VMP3AuthHTTP VMP3SQLite VMP3Conformance)
for module in "${modules[@]}"; do
  swift package --disable-sandbox --allow-writing-to-directory "$out" generate-documentation \
    --target "$module" --warnings-as-errors --output-path "$out/$module.doccarchive" >"$out/$module.log" 2>&1 || {
      grep -E 'warning|error' "$out/$module.log" | head -40
      echo "docs: $module: DocC failed (log: $out/$module.log)" >&2
      exit 1
    }
  echo "docs: $module: $out/$module.doccarchive"
done
