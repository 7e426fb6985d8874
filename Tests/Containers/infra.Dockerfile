# The container tests' stand-in for the infrastructure images deploy/compose.yaml names (RabbitMQ,
# Redis, MinIO), which cannot be pulled on a machine without registry access: one image built
# from Debian 12's packages with all three servers, each container running one of them on
# loopback (Tests/Containers/compose.loopback.yaml). S3 is moto, with the same additions the
# other tests use (scripts/s3-server.py), installed from wheels the host downloads, so that the
# build needs no TLS to a package index from inside a container. Its context, as
# Tests/Containers/run.sh lays it out: s3-server.py, rabbitmq-standin.sh (the broker's entrypoint)
# and wheels/ (`pip download 'moto[server]'`).
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      rabbitmq-server redis-server python3 python3-pip ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY wheels /tmp/wheels
RUN pip install --no-cache-dir --break-system-packages --no-index --find-links /tmp/wheels 'moto[server]' \
 && rm -rf /tmp/wheels
COPY s3-server.py rabbitmq-standin.sh /usr/local/bin/
