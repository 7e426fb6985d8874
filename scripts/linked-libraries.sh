#!/usr/bin/env bash
# Prints, for each executable, which of the project's heavy system libraries it links and how many
# shared libraries the loader maps in all: the table in Docs/architecture.md.
#   scripts/linked-libraries.sh [BUILD_DIR]   (default .build/release, else .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-}
if [[ -z $dir ]]; then dir=.build/release; [[ -x $dir/vmp3-gateway ]] || dir=.build/debug; fi
echo "| executable | FFmpeg + LAME | SQLite | VMP3Transport's (hiredis) | shared libraries in all |"
echo "|---|---|---|---|---|"
for exe in vmp3-gateway vmp3-auth vmp3-converter vmp3-notifier vmp3 vmp3-convert-child vmp3-server GatewayClient ConvertFile EmbeddedPipeline; do
  libs=$(ldd "$dir/$exe" | awk '{print $1}')
  has() { grep -qE "^($1)\\." <<<"$libs" && echo yes || echo no; }
  echo "| \`$exe\` | $(has 'libavcodec|libmp3lame') | $(has libsqlite3) | $(has libhiredis) | $(wc -l <<<"$libs") |"
done
