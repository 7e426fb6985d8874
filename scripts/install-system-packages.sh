#!/usr/bin/env bash
# Installs the Debian packages VMP3 builds on and tests with, if any is missing.
# Usage: scripts/install-system-packages.sh [extra-package ...]
set -euo pipefail

packages=(
  pkg-config
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev  # FFmpeg's libraries (5.1 on Debian 12)
  libswscale-dev                                                   # FFmpeg's scaler: a video frame as the cover
  libmp3lame-dev                                                   # LAME
  libsqlite3-dev                                                   # users (GRDB)
  librabbitmq-dev libhiredis-dev                                   # RabbitMQ and Redis clients
  libcurl4-openssl-dev                                             # SMTP (e-mail notifications)
  libseccomp-dev                                                   # the conversion child's system-call filter
  zlib1g-dev                                                       # CRC-32 of S3 uploads
  ffmpeg                                                           # the CLI: makes sample and test media
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install as root: apt-get install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "Installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
