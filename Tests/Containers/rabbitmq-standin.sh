#!/bin/sh
# The stand-in broker's entrypoint: takes RABBITMQ_DEFAULT_USER and RABBITMQ_DEFAULT_PASS as the
# official RabbitMQ image does (the first start makes that user, which may connect from anywhere),
# then runs the broker in the foreground. /etc/rabbitmq/conf.d/ is read after this file.
set -eu
{
  echo "loopback_users = none"
  [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && echo "default_user = $RABBITMQ_DEFAULT_USER"
  [ -n "${RABBITMQ_DEFAULT_PASS:-}" ] && echo "default_pass = $RABBITMQ_DEFAULT_PASS"
} > /etc/rabbitmq/rabbitmq.conf
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec rabbitmq-server
