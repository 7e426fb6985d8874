#!/usr/bin/env bash
# Writes deploy/.env, which deploy/compose.yaml reads: random passwords for RabbitMQ, Redis and
# the S3 server, and the webhook master secret. An existing file is kept (its secrets sign the
# users' webhooks and guard the data): delete it to start over.
#
# Usage: deploy/make-env.sh [FILE]   (default deploy/.env)
set -euo pipefail
file=${1:-$(dirname "$0")/.env}
if [ -e "$file" ]; then echo "make-env: $file exists; kept" >&2; exit 0; fi
secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
umask 077
cat > "$file" <<ENV
# Made by deploy/make-env.sh. Keep it out of version control.
VMP3_RABBITMQ_PASSWORD=$(secret)
VMP3_REDIS_PASSWORD=$(secret)
VMP3_S3_ACCESS_KEY=vmp3
VMP3_S3_SECRET_KEY=$(secret)
VMP3_WEBHOOK_SECRET=$(secret)
ENV
echo "make-env: wrote $file" >&2
