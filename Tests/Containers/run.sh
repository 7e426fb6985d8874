#!/usr/bin/env bash
# The container test: checks deploy/kubernetes/ (validate_kubernetes.py), builds VMP3's image,
# brings deploy/compose.yaml up with podman on loopback, runs a job end to end through the
# gateway (register, upload, succeeded, download a valid MP3), scales the converter to 2 and
# shows both consuming, checks the image's health check and its non-root user, and tears
# everything down (also when a step fails).
#
# What stands in for what this machine lacks (Docs/containers.md):
# - No registry: the Debian 12 base image is made with debootstrap from the apt mirror in use and
#   imported under the name the Dockerfile uses; RabbitMQ, Redis and S3 run from one image built
#   from Debian's packages (infra.Dockerfile) in place of the official images.
# - Containers on the host's network only (compose.loopback.yaml), every server on 127.0.0.1.
# - No systemd to time health checks, and podman 4.3, whose compose ignores `condition:`: this
#   script runs `podman healthcheck run` on every container every 2 s, and brings the services up
#   in compose.yaml's depends_on order, each once what it depends on is healthy.
#
# The image is built by default from the binaries of this tree's build (--target prebuilt): the
# debug build, or the one VMP3_CONTAINER_BINARIES names (the test command's, with
# AddressSanitizer); `--full-build` builds it with the Dockerfile's own
# build stage instead (a release build inside a Swift image made from /opt/swift: 10-15 minutes
# on 2 cores), as a user's `docker build .` does.
#
# Usage: Tests/Containers/run.sh [--full-build]
#   VMP3_CONTAINER_BINARIES=BIN-PATH takes the executables built there as they are, without a
#   `swift build` (scripts/test.sh, which runs this beside other SwiftPM commands that hold the
#   build folder's lock). VMP3_CONTAINER_TESTS=off skips it (saying so). Where podman cannot run
#   a container it skips with the reason, except under CI=true, where that fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$root/.build-containers
project=vmp3test
full_build=no
[ "${1:-}" = --full-build ] && full_build=yes

say() { echo "containers: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
skip() {
  if [ "${CI:-}" = true ]; then fail "$* (CI's machine runs containers, so this is a failure)"; fi
  say "skipped: $*"; exit 0
}
[ "${VMP3_CONTAINER_TESTS:-on}" = off ] && { say "skipped: VMP3_CONTAINER_TESTS=off"; exit 0; }
started=$SECONDS

# --- Tools -----------------------------------------------------------------------------------
scripts/install-system-packages.sh podman runc uidmap slirp4netns fuse-overlayfs debootstrap
# podman-compose from PyPI: Debian 12's (1.0.3) knows neither `!reset` nor --scale.
python3 -c 'import podman_compose, sys; v = tuple(map(int, podman_compose.__version__.split(".")[:2])); sys.exit(v < (1, 2))' 2>/dev/null \
  || pip install --quiet 'podman-compose>=1.2'
mkdir -p "$work"

# --- Kubernetes manifests ------------------------------------------------------------------------
python3 -c 'import kubernetes_validate' 2>/dev/null || pip install --quiet kubernetes-validate
python3 Tests/Containers/validate_kubernetes.py deploy/kubernetes >&2 || fail "deploy/kubernetes"
# The check itself, on a copy with a misspelt field and a wrong probe: it must refuse both.
rm -rf "$work/kubernetes-broken" && cp -R deploy/kubernetes "$work/kubernetes-broken"
sed -i 's/^  replicas: 2/  replicaz: 2/' "$work/kubernetes-broken/gateway.yaml"
sed -i 's|path: /healthz, port: http}|path: /health, port: http}|' "$work/kubernetes-broken/notifier.yaml"
if python3 Tests/Containers/validate_kubernetes.py "$work/kubernetes-broken" 2> "$work/kubernetes-broken.err"; then
  fail "validate_kubernetes.py passed manifests with a misspelt field and a wrong probe"
fi
[ "$(grep -c -e "'replicaz' was unexpected" -e 'livenessProbe must GET /healthz' "$work/kubernetes-broken.err")" = 2 ] \
  || fail "validate_kubernetes.py did not name both faults: $(cat "$work/kubernetes-broken.err")"

# runc (crun refuses this machine's hybrid cgroups), cgroupfs (no systemd), the limits this
# machine permits, and events in a file (no journald). CONTAINERS_CONF replaces every other file.
cat > "$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nproc=4096:4096", "nofile=1024:20000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$work/containers.conf
compose=(podman-compose --in-pod false -p "$project" --env-file "$work/compose.env"
         -f deploy/compose.yaml -f "$work/compose.loopback.yaml")

# --- Base image --------------------------------------------------------------------------------
base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
  mirror=$(grep -hoE '^(deb |URIs: )https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
           | grep -v security | head -n 1 | sed -E 's/^(deb |URIs: )//' || true)
  say "making $base with debootstrap from ${mirror:-?}"
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" "${mirror:-http://deb.debian.org/debian}" > "$work/debootstrap.log" 2>&1 \
    || { tail -n 5 "$work/debootstrap.log" >&2; fail "debootstrap of Debian 12"; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$work/rootfs" -c . | podman import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi
podman run --rm --network host "$base" true 2> "$work/probe.err" \
  || skip "podman cannot run a container here: $(grep -v '^time=' "$work/probe.err" | tail -n 1)"

# --- Images ------------------------------------------------------------------------------------
build=(podman build --network host --format docker)
image=localhost/vmp3:test
if [ $full_build = yes ]; then
  toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")  # /opt/swift of /opt/swift/usr/bin/swift
  say "building the Swift toolchain image from $toolchain"
  "${build[@]}" -t localhost/vmp3-swift-toolchain -f Tests/Containers/swift-toolchain.Dockerfile Tests/Containers > "$work/build-toolchain.log" 2>&1 \
    || { tail -n 20 "$work/build-toolchain.log" >&2; fail "the toolchain image"; }
  say "building $image with the Dockerfile's build stage (a release build)"
  # The toolchain, and the offline package copies with git's rewrite to them, mounted in.
  "${build[@]}" -v "$toolchain:/opt/swift:ro" -v /opt/swift-packages:/opt/swift-packages:ro -v /etc/gitconfig:/etc/gitconfig:ro \
    --build-arg SWIFT_IMAGE=localhost/vmp3-swift-toolchain -t "$image" . > "$work/build-image.log" 2>&1 \
    || { tail -n 30 "$work/build-image.log" >&2; fail "the image's build stage"; }
else
  binaries=${VMP3_CONTAINER_BINARIES:-}
  if [ -z "$binaries" ]; then
    for product in vmp3-auth vmp3-gateway vmp3-converter vmp3-notifier vmp3 vmp3-server vmp3-convert-child; do
      swift build --product "$product" > "$work/swift-build.log" 2>&1 || { tail -n 20 "$work/swift-build.log" >&2; fail "swift build --product $product"; }
    done
    binaries=$(swift build --show-bin-path)
  fi
  scripts/stage-binaries.sh "$binaries" "$work/staging"
  say "building $image from the executables in $binaries"
  "${build[@]}" --target prebuilt -t "$image" -f Dockerfile "$work/staging" > "$work/build-image.log" 2>&1 \
    || { tail -n 30 "$work/build-image.log" >&2; fail "the image"; }
fi
say "image $image: $(podman image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"

rm -rf "$work/infra" && mkdir -p "$work/infra"
cp scripts/s3-server.py Tests/Containers/rabbitmq-standin.sh "$work/infra/"
pip download --quiet --dest "$work/infra/wheels" --only-binary=:all: --python-version 3.11 --implementation cp \
  --platform manylinux2014_x86_64 'moto[server]>=5,<6' > "$work/pip.log" 2>&1 || { tail -n 5 "$work/pip.log" >&2; fail "pip download moto"; }
"${build[@]}" -t localhost/vmp3-test-infra -f Tests/Containers/infra.Dockerfile "$work/infra" > "$work/build-infra.log" 2>&1 \
  || { tail -n 20 "$work/build-infra.log" >&2; fail "the infrastructure image"; }
say "images built in $((SECONDS - started)) s"

# --- The deployment ----------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rm -f "$work/compose.env"
deploy/make-env.sh "$work/compose.env" 2>/dev/null
rabbitmq_port=$(free_port) redis_port=$(free_port) s3_port=$(free_port) gateway_port=$(free_port)
cat >> "$work/compose.env" <<EOF
VMP3_IMAGE=$image
VMP3_CONCURRENCY=1
VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR=3
VMP3_TEST_RABBITMQ_PORT=$rabbitmq_port
VMP3_TEST_RABBITMQ_DIST_PORT=$(free_port)
VMP3_TEST_EPMD_PORT=$(free_port)
VMP3_TEST_REDIS_PORT=$redis_port
VMP3_TEST_S3_PORT=$s3_port
VMP3_TEST_AUTH_PORT=$(free_port)
VMP3_TEST_GATEWAY_PORT=$gateway_port
VMP3_TEST_NOTIFIER_PORT=$(free_port)
VMP3_RABBITMQ_ADDRESS=127.0.0.1:$rabbitmq_port
VMP3_REDIS_ADDRESS=127.0.0.1:$redis_port
VMP3_S3_ADDRESS=127.0.0.1:$s3_port
EOF
# The override with this run's ports and passwords written in: podman-compose does not
# interpolate the values of `!override`.
(set -a; . "$work/compose.env"; python3 -c 'import os, sys; sys.stdout.write(os.path.expandvars(sys.stdin.read()))') \
  < Tests/Containers/compose.loopback.yaml > "$work/compose.loopback.yaml"

ticker=""
# The deployment's containers and volumes, by compose's project label.
project_containers() { podman ps -aq --filter "label=io.podman.compose.project=$project"; }
project_volumes() { podman volume ls -q --filter "label=io.podman.compose.project=$project"; }
# compose down, then whatever it does not know of: the replicas --scale added, the volumes.
teardown() {
  if [ -n "$ticker" ]; then kill "$ticker" 2>/dev/null || true; wait "$ticker" 2>/dev/null || true; ticker=""; fi
  "${compose[@]}" logs > "$work/compose.log" 2>&1 || true
  "${compose[@]}" down -v -t "${1:-10}" > "$work/down.log" 2>&1 || true
  project_containers | xargs -r podman rm -f -v -t 5 >> "$work/down.log" 2>&1 || true
  project_volumes | xargs -r podman volume rm -f >> "$work/down.log" 2>&1 || true
}
trap teardown EXIT
teardown 0  # a deployment a killed run left behind

# What systemd's timers would do: run each container's health check every 2 s.
( while true; do
    for id in $(podman ps -q --filter "label=io.podman.compose.project=$project" 2>/dev/null); do
      podman healthcheck run "$id" >/dev/null 2>&1 &
    done
    sleep 2
  done ) &
ticker=$!

health() { podman inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "${project}_$1_1" 2>/dev/null || echo missing; }
wait_healthy() {  # wait_healthy SECONDS SERVICE...
  local deadline=$((SECONDS + $1)) service
  shift
  for service in "$@"; do
    until [ "$(health "$service")" = healthy ]; do
      [ "$SECONDS" -lt "$deadline" ] || { "${compose[@]}" logs "$service" 2>&1 | tail -n 20 >&2; fail "$service did not turn healthy (it is $(health "$service"))"; }
      sleep 1
    done
  done
}
# Each step starts only the services it names (--no-deps): what they depend on is up already, and
# a second `up` of those would replace containers that others' --requires name.
: > "$work/up.log"
up() { "${compose[@]}" up -d --no-build --no-deps "$@" >> "$work/up.log" 2>&1 || { tail -n 20 "$work/up.log" >&2; fail "compose up $*"; }; }

up rabbitmq redis s3
wait_healthy 240 redis s3 rabbitmq
up s3-bucket
deadline=$((SECONDS + 60))
until [ "$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "${project}_s3-bucket_1")" = "exited 0" ]; do
  [ "$SECONDS" -lt "$deadline" ] || { "${compose[@]}" logs s3-bucket >&2; fail "s3-bucket did not make the bucket"; }
  sleep 1
done
up auth
wait_healthy 120 auth
up gateway converter notifier
wait_healthy 120 gateway notifier
say "deployment up in $((SECONDS - started)) s"

# --- One job end to end ------------------------------------------------------------------------
gateway=http://127.0.0.1:$gateway_port
# Seven different videos (a tone of its own each), so that no job is the conversion cache's copy
# of another's MP3: every one is a converter's work.
mkdir -p "$work/videos"
for n in 1 2 3 4 5 6 7; do
  [ -f "$work/videos/$n.mp4" ] || ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "testsrc2=size=320x240:rate=25:duration=6" \
    -f lavfi -i "sine=frequency=$((300 + 50 * n)):sample_rate=44100:duration=6" -c:v libx264 -preset ultrafast -pix_fmt yuv420p \
    -c:a aac -ac 2 "$work/videos/$n.mp4"
done
rm -rf "$work/mp3" && mkdir -p "$work/mp3"
python3 Tests/Containers/gateway_jobs.py "$gateway" "$work/mp3" "$work/videos/1.mp4" > "$work/jobs-1.txt" || fail "the job through the gateway"
check_mp3() {
  local file=$1 codec duration
  codec=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$file")
  duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$file")
  [ "$codec" = mp3 ] || fail "$file is not an MP3 (codec '$codec')"
  python3 -c "import sys; sys.exit(not 5.5 < float('$duration') < 6.5)" || fail "$file lasts $duration s, not 6"
  ffmpeg -nostdin -v error -i "$file" -f null - 2> "$work/decode.err"
  [ ! -s "$work/decode.err" ] || fail "decoding $file: $(head -n 1 "$work/decode.err")"
}
check_mp3 "$work/mp3/$(head -n 1 "$work/jobs-1.txt").mp3"
say "one job: register, upload, succeeded, downloaded a valid 6 s MP3"

# --- The auth service counts clients, not the gateway -------------------------------------------
# Registrations from two client addresses (loopback has them all): the gateway passes each
# client's address on, and compose's auth trusts the gateway, so the second client still
# registers after the first used up its three an hour (VMP3_REGISTRATIONS_PER_CLIENT_PER_HOUR=3
# above). Were the gateway's own address what auth counted, the second would be refused too.
register_from() {  # register_from ADDRESS NAME: prints the status
  curl -s -o /dev/null -w '%{http_code}' --interface "$1" -H 'Content-Type: application/json' \
    --data "{\"email\": \"$2@example.com\", \"password\": \"a long passphrase\"}" "$gateway/v1/auth/register"
}
statuses=""
for n in 1 2 3 4; do statuses="$statuses $(register_from 127.0.0.2 "client-two-$n")"; done
[ "$statuses" = " 201 201 201 429" ] || fail "four registrations from one client answered$statuses, not 201 201 201 429"
other=$(register_from 127.0.0.3 client-three)
[ "$other" = 201 ] || fail "a second client's registration answered $other after the first client's limit: auth counts the gateway, not its clients"
say "auth behind the gateway: the registration limit counts each client (3 × 201 then 429 for one, 201 for another)"

# --- Two converters ----------------------------------------------------------------------------
up --scale converter=2 converter
converters=$(podman ps --format '{{.Names}}' --filter "label=io.podman.compose.project=$project" --filter "label=com.docker.compose.service=converter" | sort)
[ "$(echo "$converters" | grep -c .)" = 2 ] || fail "--scale converter=2 runs: $(echo $converters)"
# Each converter ready (its /readyz, on the port it printed) and consuming before the jobs go in.
for converter in $converters; do
  deadline=$((SECONDS + 120))
  until port=$(podman logs "$converter" 2>/dev/null | sed -nE 's/.*listening on http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' | tail -n 1) \
        && [ -n "$port" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$converter did not become ready"
    sleep 1
  done
done
consumers() { podman exec "${project}_rabbitmq_1" rabbitmqctl -q list_queues name consumers 2>/dev/null | awk '$1 == "vmp3.jobs" { print $2 }'; }
deadline=$((SECONDS + 60))
until [ "$(consumers)" = 2 ]; do
  [ "$SECONDS" -lt "$deadline" ] || fail "the job queue has $(consumers) consumers, not 2: $(podman exec "${project}_rabbitmq_1" rabbitmqctl -q list_queues name consumers 2>&1 | tr '\n' ' ')"
  sleep 1
done
# deploy/rabbitmq.conf, mounted into the broker's conf.d, is in force.
timeout=$(podman exec "${project}_rabbitmq_1" rabbitmqctl -q eval 'application:get_env(rabbit, consumer_timeout).' 2>&1 | tr -d ' \n')
[ "$timeout" = "{ok,7200000}" ] || fail "the broker's consumer_timeout is $timeout, not deploy/rabbitmq.conf's 7200000"
python3 Tests/Containers/gateway_jobs.py "$gateway" "$work/mp3" "$work"/videos/{2,3,4,5,6,7}.mp4 > "$work/jobs-6.txt" || fail "six jobs through two converters"
rm -f "$work"/*.jobs
for converter in $converters; do
  podman logs "$converter" 2>&1 | grep converting | grep -o -F -f "$work/jobs-6.txt" | sort -u > "$work/$converter.jobs" || true
  [ -s "$work/$converter.jobs" ] || fail "$converter converted none of the six jobs"
  say "$converter converted $(wc -l < "$work/$converter.jobs") of the six jobs"
done
[ "$(cat "$work"/*_converter_*.jobs | sort -u | wc -l)" = 6 ] || fail "the converters' logs account for $(cat "$work"/*_converter_*.jobs | sort -u | wc -l) of the six jobs"
while read -r job; do check_mp3 "$work/mp3/$job.mp3"; done < "$work/jobs-6.txt"

# --- The image ---------------------------------------------------------------------------------
for service in auth gateway notifier; do
  user=$(podman exec "${project}_${service}_1" id -u):$(podman exec "${project}_${service}_1" id -g)
  [ "$user" = 10001:10001 ] || fail "$service runs as $user, not the image's vmp3 user (10001:10001)"
done
[ "$(podman image inspect --format '{{.Config.User}}' "$image")" = vmp3 ] || fail "the image's user is not vmp3"
podman exec "${project}_gateway_1" grep -q "GPL" /usr/local/share/doc/vmp3/NOTICE \
  || fail "the image carries no NOTICE of the libraries it distributes"
podman exec "${project}_gateway_1" test -s /usr/local/share/doc/vmp3/LICENSE || fail "the image carries no LICENSE"
say "health checks healthy (auth, gateway, notifier), every service runs as vmp3 (10001:10001), LICENSE and NOTICE in the image"

teardown
trap - EXIT
left=$(project_containers; project_volumes)
[ -z "$left" ] || fail "the teardown left $(echo "$left" | wc -l) containers and volumes"
say "torn down: no container or volume of the deployment is left"
say "passed in $((SECONDS - started)) s"
