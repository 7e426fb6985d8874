#!/usr/bin/env bash
# Stages VMP3's executables as the tree the container image copies to its root
# (Dockerfile): DIR/usr/local/bin/{vmp3-auth,vmp3-gateway,vmp3-converter,vmp3-notifier,vmp3,
# vmp3-server,vmp3-convert-child,vmp3-healthcheck}, the executables' resource bundles beside them,
# and DIR/usr/local/share/doc/vmp3/{LICENSE,NOTICE}. Debug information and
# the debugger's .swift_ast are stripped (the symbol table stays, for backtraces). The Swift
# runtime's shared libraries the executables link (all of them, unless they were built with
# --static-swift-stdlib) are staged too, in DIR/usr/local/lib/swift with a file in
# DIR/etc/ld.so.conf.d.
#
# Usage: scripts/stage-binaries.sh BIN-PATH DIR   (BIN-PATH: `swift build [-c release] --show-bin-path`)
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BIN-PATH DIR" >&2; exit 2; }
bin=$1 out=$2
here=$(cd "$(dirname "$0")/.." && pwd)
executables=(vmp3-auth vmp3-gateway vmp3-converter vmp3-notifier vmp3 vmp3-server vmp3-convert-child)

rm -rf "$out"
mkdir -p "$out/usr/local/bin"
for executable in "${executables[@]}"; do
  [ -x "$bin/$executable" ] || { echo "stage-binaries: $bin/$executable is missing: build it first" >&2; exit 1; }
  objcopy --strip-debug --remove-section=.swift_ast "$bin/$executable" "$out/usr/local/bin/$executable"
done
for bundle in "$bin"/*.resources; do
  [ -d "$bundle" ] && cp -R "$bundle" "$out/usr/local/bin/"
done
install -m 0755 "$here/deploy/vmp3-healthcheck" "$out/usr/local/bin/vmp3-healthcheck"
# The licence and the notice of the libraries an image distributes with the executables.
install -D -m 0644 "$here/LICENSE" "$out/usr/local/share/doc/vmp3/LICENSE"
install -m 0644 "$here/NOTICE" "$out/usr/local/share/doc/vmp3/NOTICE"

# The Swift runtime's shared libraries the executables load, found by the loader on this machine.
runtime=$(for executable in "${executables[@]}"; do ldd "$bin/$executable"; done \
  | awk '$3 ~ /\/lib\/swift\/linux\// { print $3 }' | sort -u)
if [ -n "$runtime" ]; then
  mkdir -p "$out/usr/local/lib/swift" "$out/etc/ld.so.conf.d"
  for library in $runtime; do objcopy --strip-debug "$library" "$out/usr/local/lib/swift/$(basename "$library")"; done
  echo /usr/local/lib/swift > "$out/etc/ld.so.conf.d/swift.conf"
fi
du -sh "$out" | awk '{ print "stage-binaries: " $1 " in " $2 }' >&2
