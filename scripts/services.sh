#!/usr/bin/env bash
# Starts and stops the servers the networked backends are tested against, on 127.0.0.1 only:
# Redis, RabbitMQ, an S3 server (moto, through scripts/s3-server.py) and an SMTP receiver (aiosmtpd, writing a maildir).
# Their data, logs and pid files live in .services/ (git-ignored).
#
# Usage: scripts/services.sh start|stop|env|restart-redis|start-fault-rabbitmq|stop-fault-rabbitmq
#   env prints the VMP3_TEST_* variables the tests read.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/.services

# Every port is below Linux's ephemeral range (32768-60999): a port in it can be taken, at the
# moment a server starts, by any client's outgoing connection, and the server cannot listen (a
# restarted RabbitMQ then stops with `rabbit_is_not_running`). Scratch servers of the tests take
# 20000-29999; RabbitMQ's CLI tools bind 35672-35682.
REDIS_PORT=${VMP3_TEST_REDIS_PORT:-16379}
AMQP_PORT=${VMP3_TEST_AMQP_PORT:-17672}  # its Erlang distribution port is the next one
S3_PORT=${VMP3_TEST_S3_PORT:-19000}
SMTP_PORT=${VMP3_TEST_SMTP_PORT:-19025}
SMTP_TLS_PORT=${VMP3_TEST_SMTP_TLS_PORT:-19026}  # requires STARTTLS, with a certificate made here
# A second broker that fault tests stop and start, so that the tests sharing the first are undisturbed.
FAULT_AMQP_PORT=${VMP3_TEST_FAULT_AMQP_PORT:-17682}
RABBIT_NODE=vmp3test@localhost
RABBIT_DIR=$root/rabbitmq
RABBIT_PORT=$AMQP_PORT

use_fault_broker() {
  RABBIT_NODE=vmp3fault@localhost RABBIT_DIR=$root/rabbitmq-fault RABBIT_PORT=$FAULT_AMQP_PORT
}

rabbit_env() {
  export RABBITMQ_NODENAME=$RABBIT_NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$RABBIT_PORT
  export RABBITMQ_DIST_PORT=$((RABBIT_PORT + 1)) RABBITMQ_MNESIA_BASE=$RABBIT_DIR/mnesia RABBITMQ_LOG_BASE=$RABBIT_DIR/log
  export RABBITMQ_PID_FILE=$RABBIT_DIR/rabbitmq.pid RABBITMQ_CONFIG_FILE=$RABBIT_DIR/rabbitmq
  export RABBITMQ_ENABLED_PLUGINS_FILE=$RABBIT_DIR/enabled_plugins
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  # A deadline on the clock, not a count of tries: on a loaded machine one try of a CLI that
  # boots an Erlang VM takes seconds, and a count would stretch the wait many times over.
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  while [ "$SECONDS" -lt "$deadline" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "services: $what did not start within ${seconds}s" >&2
  return 1
}

start_redis() {
  mkdir -p "$root/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$root/redis" --pidfile "$root/redis/redis.pid" --logfile "$root/redis/redis.log"
  wait_for 10 "redis" redis-cli -p "$REDIS_PORT" ping
}

stop_redis() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || return 0; sleep 0.1; done
}

# The broker's Erlang VM, found by the node name in its environment: the PID file is no guide,
# since a second start of a running node removes it when it gives up.
rabbit_pid() {
  local environ pid
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}; pid=${pid%/environ}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = beam.smp ] && alive "$pid" || continue
    tr '\0' '\n' < "$environ" 2>/dev/null | grep -qx "RABBITMQ_NODENAME=$RABBIT_NODE" && { echo "$pid"; return 0; }
  done
  return 0
}

# A process that has exited but not been reaped (a container's PID 1 may never reap) is gone.
alive() { [ -r "/proc/$1/stat" ] && ! awk '{ exit ($3 == "Z" ? 0 : 1) }' "/proc/$1/stat" 2>/dev/null; }

rabbit_ping() { rabbitmq-diagnostics -q -n "$RABBIT_NODE" ping >/dev/null 2>&1; }

# Ready means the broker's boot has finished, not only that its Erlang node answers. One
# `await_startup` is not enough: RabbitMQ 3.10 answers `rabbit_is_not_running` at once, without
# waiting, when it asks in a moment the node is neither booting nor running (seen in CI right after
# the node first answered), so it is asked again until the deadline; a node not up yet fails it
# at once too. Its last answer is kept.
rabbit_ready() {
  timeout 120 rabbitmqctl -q -n "$RABBIT_NODE" await_startup --timeout 60 > "$RABBIT_DIR/await.out" 2>&1
}

start_rabbitmq() {
  rabbit_env
  # Already up (a start after a start, as a test that restarts the broker may do): it only has to
  # be ready. Up but not answering: that node is replaced, or the new one would find its name taken.
  if [ -n "$(rabbit_pid)" ] && ! rabbit_ping; then stop_rabbitmq; fi
  if [ -z "$(rabbit_pid)" ]; then
    mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
    # The Debian wrapper runs the broker as the rabbitmq user: it must own its folders.
    chmod o+x "$root" "$PWD"
    echo "[]." > "$RABBIT_DIR/enabled_plugins"
    # consumer_timeout: see Docs/operations.md (long conversions hold a delivery for minutes).
    printf 'loopback_users.guest = true\nconsumer_timeout = 7200000\n' > "$RABBIT_DIR/rabbitmq.conf"
    chown -R rabbitmq:rabbitmq "$RABBIT_DIR" 2>/dev/null || true
    rabbitmq-server -detached > "$RABBIT_DIR/start.out" 2>&1 || true
  fi
  # Boot on a machine starved by a sanitized test run can take minutes; a broker that exits
  # instead fails at once, with its own words.
  local started=$SECONDS deadline=$((SECONDS + 240))
  until rabbit_ready; do
    if [ "$SECONDS" -ge "$deadline" ] || { [ "$SECONDS" -ge $((started + 20)) ] && [ -z "$(rabbit_pid)" ]; }; then
      echo "services: rabbitmq $RABBIT_NODE did not start; its last words:" >&2
      tail -n 5 "$RABBIT_DIR/await.out" "$RABBIT_DIR/start.out" "$RABBIT_DIR/log/$RABBIT_NODE.log" 2>/dev/null | cut -c1-300 >&2
      return 1
    fi
    sleep 0.5
  done
}

stop_rabbitmq() {
  rabbit_env
  local pid
  pid=$(rabbit_pid)
  [ -n "$pid" ] || return 0
  # A stop returns only when the VM is gone: a node still shutting down keeps its name in epmd,
  # and a start just after it would fail. One that does not stop in time is killed.
  timeout 60 rabbitmqctl -q -n "$RABBIT_NODE" stop >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 30))
  while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if alive "$pid"; then
    kill -9 "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
}

start_s3() {
  mkdir -p "$root/s3"
  # moto, with S3's expiry of presigned URLs and its response-* overrides (scripts/s3-server.py).
  nohup python3 scripts/s3-server.py -H 127.0.0.1 -p "$S3_PORT" > "$root/s3/moto.log" 2>&1 &
  echo $! > "$root/s3/moto.pid"
  wait_for 30 "the S3 server (moto)" curl -sf "http://127.0.0.1:$S3_PORT/moto-api/"
}

start_smtp() {
  mkdir -p "$root"/smtp/maildir/{tmp,new,cur}
  nohup python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$root/smtp/maildir" \
    > "$root/smtp/aiosmtpd.log" 2>&1 &
  echo $! > "$root/smtp/aiosmtpd.pid"
  wait_for 30 "the SMTP receiver" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_PORT"
  # The second receiver refuses mail until the client has done STARTTLS, with a self-signed
  # certificate for 127.0.0.1 that the tests trust as their CA.
  mkdir -p "$root"/smtp/maildir-tls/{tmp,new,cur}
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$root/smtp/key.pem" -out "$root/smtp/cert.pem" >/dev/null 2>&1
  nohup python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_TLS_PORT" --tlscert "$root/smtp/cert.pem" --tlskey "$root/smtp/key.pem" \
    -c aiosmtpd.handlers.Mailbox "$root/smtp/maildir-tls" > "$root/smtp/aiosmtpd-tls.log" 2>&1 &
  echo $! > "$root/smtp/aiosmtpd-tls.pid"
  wait_for 30 "the STARTTLS SMTP receiver" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTP_TLS_PORT"
}

stop_pid() {
  local file=$1
  [ -f "$file" ] || return 0
  kill "$(cat "$file")" 2>/dev/null || true
  rm -f "$file"
}

install_tools() {
  # chromium and its driver: the web page's browser tests (Tests/Browser), with Selenium.
  scripts/install-system-packages.sh redis-server rabbitmq-server curl openssl chromium chromium-driver fonts-dejavu-core
  python3 -c 'import moto.server, flask' 2>/dev/null || pip install --quiet 'moto[server]'
  python3 -c 'import aiosmtpd' 2>/dev/null || pip install --quiet aiosmtpd
  python3 -c 'import selenium' 2>/dev/null || pip install --quiet selenium
  command -v schemathesis >/dev/null 2>&1 || pip install --quiet schemathesis  # fuzzes the HTTP API against its OpenAPI document
}

stop_all() {
  stop_rabbitmq
  (use_fault_broker; stop_rabbitmq)
  stop_redis
  stop_pid "$root/s3/moto.pid"
  stop_pid "$root/smtp/aiosmtpd.pid"
  stop_pid "$root/smtp/aiosmtpd-tls.pid"
}

case "${1:-}" in
  start)
    install_tools
    # A start after a start that was never stopped replaces it: servers left running would keep
    # their ports with the old certificate and data, and their pid files would be lost.
    # (whether epmd ran before the first of them is what the stop at the end goes by).
    epmd_was_running=$(cat "$root/epmd-was-running" 2>/dev/null || { pgrep -x epmd >/dev/null && echo yes || echo no; })
    [ -d "$root" ] && stop_all
    mkdir -p "$root"
    echo "$epmd_was_running" > "$root/epmd-was-running"
    start_redis
    start_s3
    start_smtp
    # Each run starts with empty brokers: queues left by earlier runs would only slow the start.
    rm -rf "$RABBIT_DIR/mnesia" "$root/rabbitmq-fault/mnesia"
    start_rabbitmq
    ;;
  stop)
    stop_all
    # epmd outlives the broker; stop it only if this script's start brought it up.
    if [ "$(cat "$root/epmd-was-running" 2>/dev/null || echo yes)" = no ]; then pkill -x epmd 2>/dev/null || true; fi
    rm -f "$root/epmd-was-running"
    ;;
  restart-redis) stop_redis; start_redis ;;
  stop-fault-rabbitmq) use_fault_broker; stop_rabbitmq ;;
  start-fault-rabbitmq) use_fault_broker; start_rabbitmq ;;
  env)
    echo "export VMP3_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    echo "export VMP3_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2F"
    echo "export VMP3_TEST_FAULT_AMQP_URL=amqp://guest:guest@127.0.0.1:$FAULT_AMQP_PORT/%2F"
    echo "export VMP3_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
    echo "export VMP3_TEST_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT"
    echo "export VMP3_TEST_MAILDIR=$root/smtp/maildir"
    echo "export VMP3_TEST_SMTP_TLS_URL=smtp://127.0.0.1:$SMTP_TLS_PORT"
    echo "export VMP3_TEST_SMTP_TLS_CA=$root/smtp/cert.pem"
    echo "export VMP3_TEST_TLS_MAILDIR=$root/smtp/maildir-tls"
    echo "export VMP3_TEST_SERVICES=$PWD/scripts/services.sh"
    ;;
  *) echo "usage: $0 start|stop|env|restart-redis|start-fault-rabbitmq|stop-fault-rabbitmq" >&2; exit 64 ;;
esac
