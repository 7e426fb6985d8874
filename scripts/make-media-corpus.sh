#!/usr/bin/env bash
# Makes small real media files of many containers and codecs with the ffmpeg CLI, one second
# each (eight of them with a video stream): the seeds of the conversion fuzzer
# (scripts/fuzz.sh) and the originals of the mutation corpus test (MutationCorpusTests).
# Nothing is committed; the files are made anew in DIR.
#
# Usage: scripts/make-media-corpus.sh DIR
set -euo pipefail
dir=${1:?usage: make-media-corpus.sh DIR}
mkdir -p "$dir"

tone=(-f lavfi -i "sine=frequency=440:sample_rate=44100:duration=1")
make() { # NAME ARGS...: makes DIR/NAME unless it is there
  local name=$1; shift
  [ -s "$dir/$name" ] || ffmpeg -nostdin -hide_banner -loglevel error -y "$@" "$dir/$name"
}

make h264-aac.mp4     -f lavfi -i "testsrc=size=64x48:rate=10:duration=1" "${tone[@]}" \
                      -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -ac 2 -shortest
# Video in each codec a cover frame is decoded from (VideoDecoder.allowedDecoders), so that
# the fuzzer reaches those decoders, the scaler and the JPEG encoder too.
pattern=(-f lavfi -i "testsrc=size=64x64:rate=10:duration=1")
make hevc-aac.mkv     "${pattern[@]}" "${tone[@]}" -c:v libx265 -preset ultrafast -x265-params log-level=error -c:a aac -shortest
make vp9-opus.webm    "${pattern[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -c:v libvpx-vp9 -deadline realtime -c:a libopus -shortest
make vp8-vorbis.webm  "${pattern[@]}" "${tone[@]}" -c:v libvpx -deadline realtime -c:a libvorbis -shortest
make av1-opus.mkv     "${pattern[@]}" -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -c:v libaom-av1 -cpu-used 8 -c:a libopus -shortest
make mpeg4-mp3.avi    "${pattern[@]}" "${tone[@]}" -c:v mpeg4 -c:a libmp3lame -shortest
make mpeg2-mp2.ts     "${pattern[@]}" "${tone[@]}" -c:v mpeg2video -c:a mp2 -shortest
make mjpeg-pcm.avi    "${pattern[@]}" "${tone[@]}" -c:v mjpeg -pix_fmt yuvj420p -c:a pcm_s16le -shortest
make alac.m4a         "${tone[@]}" -c:a alac
make opus.mkv         -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -c:a libopus -ac 2
make vorbis.webm      "${tone[@]}" -c:a libvorbis -ac 2
make pcm.mov          "${tone[@]}" -c:a pcm_s16le -ac 2
make mp3.avi          "${tone[@]}" -c:a libmp3lame -ac 2
make aac.flv          "${tone[@]}" -c:a aac -ac 1
make ac3.ts           -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -c:a ac3 -ac 2
make mp2.mpg          "${tone[@]}" -c:a mp2 -f mpeg
make wmav2.asf        "${tone[@]}" -c:a wmav2
make vorbis.ogg       "${tone[@]}" -c:a libvorbis
make pcm.wav          -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=1" -c:a pcm_u8
make lame.mp3         "${tone[@]}" -c:a libmp3lame -b:a 64k
make adts.aac         "${tone[@]}" -c:a aac
make small.flac       -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=1" -c:a flac
make pcm.aiff         "${tone[@]}" -c:a pcm_s24be
make surround.eac3    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" -ac 6 -c:a eac3
make pcm.w64          "${tone[@]}" -c:a pcm_f32le
make adpcm.caf        "${tone[@]}" -c:a adpcm_ima_qt
make vorbis.nut       "${tone[@]}" -c:a libvorbis
