#!/usr/bin/env bash
# Converts a video to MP3 with VMP3 on embedded defaults: no servers, nothing to configure.
# Installs the system packages it needs, builds `vmp3`, and converts VIDEO (or, without one, a
# 30-second sample clip it makes with ffmpeg).
#
# Usage: scripts/try.sh [VIDEO] [vmp3 convert options...]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v swift >/dev/null || { echo "VMP3 needs a Swift 6 toolchain on PATH (https://swift.org/install)" >&2; exit 1; }
scripts/install-system-packages.sh

echo "Building vmp3 (release; the first build takes a minute or two)..." >&2
swift build -c release --product vmp3 >&2
vmp3=.build/release/vmp3

if [ $# -gt 0 ] && [ -f "$1" ]; then
  input=$1
  shift
else
  mkdir -p .vmp3-demo
  input=.vmp3-demo/sample.mp4
  if [ ! -f "$input" ]; then
    echo "Making a 30-second 720p sample video at $input..." >&2
    ffmpeg -nostdin -hide_banner -loglevel error -y \
      -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=30" \
      -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=44100:duration=30" \
      -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 \
      -metadata title="VMP3 sample" -metadata artist="ffmpeg testsrc2" "$input"
  fi
fi

output="${input%.*}.mp3"
"$vmp3" probe "$input"
"$vmp3" convert "$input" -o "$output" --force "$@"
