# For `Tests/Containers/run.sh --full-build` on a machine without registry access: a stand-in
# for the official Swift image the Dockerfile's build stage names, made from Debian 12 and the
# toolchain's own system dependencies. The toolchain itself is mounted at /opt/swift while the
# image builds (run.sh passes -v), rather than copied into a 3 GB layer.
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3.11 \
      libncurses6 libsqlite3-0 libstdc++-12-dev libxml2-dev libz3-dev pkg-config tzdata zlib1g-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
