#!/bin/sh
# The Erlang cookie (what the three nodes and the CLI tools share to talk to each other) comes
# from a compose secret; RabbitMQ wants it as a file only its own user may read.
set -eu
install -m 0400 -o rabbitmq -g rabbitmq /run/secrets/rabbitmq_erlang_cookie /var/lib/rabbitmq/.erlang.cookie
exec docker-entrypoint.sh "$@"
