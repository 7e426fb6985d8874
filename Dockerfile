# syntax=docker/dockerfile:1
# One image with VMP3's executables (vmp3-auth, vmp3-gateway, vmp3-converter, vmp3-notifier, the
# vmp3 CLI and vmp3-server, which runs its `serve` and `create-bucket`, and vmp3-convert-child,
# the confined process the converters decode in); a container runs one of them, named by its command (`CMD` below is the
# gateway). Why one image and not one per service: Docs/containers.md.
#
#   docker build -t vmp3 .          (or: podman build --format docker -t vmp3 .)
#
# Build arguments:
#   SWIFT_IMAGE    the build stage's Swift 6 toolchain on Debian 12
#   RUNTIME_IMAGE  the runtime's base, Debian 12: the executables link Debian 12's FFmpeg 5.1,
#                  LAME, librabbitmq and hiredis
#
# `--target prebuilt` makes the same image from binaries built outside it instead (the tests do,
# with the ones their own stage has just built): see that stage below.
ARG SWIFT_IMAGE=docker.io/library/swift:6.3-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libswscale-dev \
      libmp3lame-dev libsqlite3-dev librabbitmq-dev libhiredis-dev libcurl4-openssl-dev libseccomp-dev zlib1g-dev binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest first: the resolved packages stay cached until Package.swift changes.
COPY Package.swift ./
RUN swift package resolve
COPY . .
# The Swift runtime as shared libraries, which stage-binaries.sh stages with the executables: six
# executables linked with --static-swift-stdlib would each carry their own Foundation and ICU
# data (124 MB a gateway against 48 MB; Docs/containers.md).
RUN for product in vmp3-auth vmp3-gateway vmp3-converter vmp3-notifier vmp3 vmp3-server vmp3-convert-child; do \
      swift build -c release --product "$product" || exit 1; \
    done \
 && scripts/stage-binaries.sh "$(swift build -c release --show-bin-path)" /staging

FROM ${RUNTIME_IMAGE} AS runtime-base
# The shared libraries the executables link, and curl for the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libavformat59 libavcodec59 libavutil57 libswresample4 libswscale6 libmp3lame0 \
      librabbitmq4 libhiredis0.14 libcurl4 libsqlite3-0 libssl3 libseccomp2 ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vmp3 \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/vmp3 --create-home --shell /usr/sbin/nologin vmp3
WORKDIR /var/lib/vmp3
# Every service listens on 8080 in its container; compose and Kubernetes map it. What a service
# keeps (the auth service's users and keys) goes in a volume at /var/lib/vmp3 that the deployment
# names; the others keep nothing.
ENV VMP3_DATA_DIR=/var/lib/vmp3 \
    VMP3_HTTP_ADDRESS=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["vmp3-healthcheck"]
CMD ["vmp3-gateway"]

# `--target prebuilt`: the binaries a host has built and staged (scripts/stage-binaries.sh
# BIN-PATH DIR), with DIR as the build context. Either way the staged tree brings the Swift
# runtime's libraries in /usr/local/lib/swift and a file naming that folder in /etc/ld.so.conf.d.
FROM runtime-base AS prebuilt
COPY . /
RUN ldconfig
USER vmp3

# The image (the last stage, built by default): the build stage's binaries.
FROM runtime-base AS runtime
COPY --from=build /staging/ /
RUN ldconfig
USER vmp3
