#!/usr/bin/env bash
# Tries VMP3 on embedded defaults: no servers, nothing to configure. Installs the system packages
# it needs, builds `vmp3`, makes a 30-second sample video (unless given one), and starts
# `vmp3 serve` — the HTTP API, converter and notifier in one process on http://127.0.0.1:8080 —
# which prints the curl commands that register, upload the video and download its MP3, and last
# the address of the web page (http://127.0.0.1:8080/) to use it from a browser.
# Stop it with Ctrl-C. Its data (users, keys, uploads, MP3s) stays in .vmp3-demo/data.
#
# Usage: scripts/try.sh [VIDEO] [vmp3 serve options, e.g. --port 9090]
set -euo pipefail
cd "$(dirname "$0")/.."

command -v swift >/dev/null || { echo "VMP3 needs a Swift 6 toolchain on PATH (https://swift.org/install)" >&2; exit 1; }
scripts/install-system-packages.sh

echo "Building vmp3, vmp3-server, which runs its serve, and vmp3-convert-child, the confined process uploads are decoded in (release; the first build takes a few minutes)..." >&2
swift build -c release --static-swift-stdlib --product vmp3-server >&2
swift build -c release --static-swift-stdlib --product vmp3-convert-child >&2
swift build -c release --static-swift-stdlib --product vmp3 >&2
vmp3=.build/release/vmp3

mkdir -p .vmp3-demo
if [ $# -gt 0 ] && [ -f "$1" ]; then
  video=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  shift
else
  video=$PWD/.vmp3-demo/video.mp4
  if [ ! -f "$video" ]; then
    echo "Making a 30-second 720p sample video at $video..." >&2
    ffmpeg -nostdin -hide_banner -loglevel error -y \
      -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=30" \
      -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=44100:duration=30" \
      -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 \
      -metadata title="VMP3 sample" -metadata artist="ffmpeg testsrc2" "$video"
  fi
fi

exec "$vmp3" serve --data-dir .vmp3-demo/data --example-video "$video" "$@"
