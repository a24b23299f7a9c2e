#!/bin/sh
# The replica set's keyfile comes from a compose secret; mongod refuses one that others can
# read, so it is copied with mode 0400 for the mongodb user (uid 999 in the official image).
set -eu
install -m 0400 -o 999 -g 999 /run/secrets/mongodb_keyfile /etc/mongodb-keyfile
exec docker-entrypoint.sh "$@"
