# syntax=docker/dockerfile:1
# One image with VMP3's five executables (vmp3-auth, vmp3-gateway, vmp3-converter, vmp3-notifier
# and the vmp3 CLI); a container runs one of them, named by its command (`CMD` below is the
# gateway). Why one image and not one per service: Docs/containers.md.
#
#   docker build -t vmp3 .          (or: podman build --format docker -t vmp3 .)
#
# Build arguments:
#   SWIFT_IMAGE    the build stage's Swift 6 toolchain on Debian 12
#   RUNTIME_IMAGE  the runtime's base, Debian 12: the executables link Debian 12's FFmpeg 5.1,
#                  LAME, librabbitmq and hiredis
#   BINARIES       `build` (the default) compiles in the build stage; `prebuilt` takes the staged
#                  tree of `scripts/stage-binaries.sh` as the build context instead (the tests do,
#                  with the binaries their own stage has just built)
ARG SWIFT_IMAGE=docker.io/library/swift:6.3-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
ARG BINARIES=build

FROM ${SWIFT_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libswscale-dev \
      libmp3lame-dev libsqlite3-dev librabbitmq-dev libhiredis-dev libcurl4-openssl-dev binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest first: the resolved packages stay cached until Package.swift changes.
COPY Package.swift ./
RUN swift package resolve
COPY . .
# The Swift runtime linked in statically: the runtime stage needs no toolchain.
RUN for product in vmp3-auth vmp3-gateway vmp3-converter vmp3-notifier vmp3; do \
      swift build -c release --static-swift-stdlib --product "$product" || exit 1; \
    done \
 && scripts/stage-binaries.sh "$(swift build -c release --show-bin-path)" /staging

# The binaries a host has built and staged (scripts/stage-binaries.sh BIN-PATH DIR), with DIR as
# the build context.
FROM scratch AS prebuilt
COPY . /staging/

FROM ${BINARIES} AS binaries

FROM ${RUNTIME_IMAGE} AS runtime
# The shared libraries the executables link, and curl for the health check.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libavformat59 libavcodec59 libavutil57 libswresample4 libswscale6 libmp3lame0 \
      librabbitmq4 libhiredis0.14 libcurl4 libsqlite3-0 libssl3 ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vmp3 \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/vmp3 --create-home --shell /usr/sbin/nologin vmp3
COPY --from=binaries /staging/ /
# A staged tree with the Swift runtime as shared libraries (a debug build's) brings them in
# /usr/local/lib/swift and a file naming that folder in /etc/ld.so.conf.d.
RUN ldconfig
USER vmp3
WORKDIR /var/lib/vmp3
# Every service listens on 8080 in its container; compose and Kubernetes map it. What a service
# keeps (the auth service's users and keys) goes in a volume at /var/lib/vmp3 that the deployment
# names; the others keep nothing.
ENV VMP3_DATA_DIR=/var/lib/vmp3 \
    VMP3_HTTP_ADDRESS=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["vmp3-healthcheck"]
CMD ["vmp3-gateway"]
