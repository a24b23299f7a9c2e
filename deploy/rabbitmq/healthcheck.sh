#!/bin/sh
# Healthy = the node runs and has no memory or disk alarm (one node down does not make the
# others unhealthy). The first node (VANTHU_IMPORT_DEFINITIONS=1) also imports the vhost and the
# queue policies of definitions.json once: the import merges, so the account made from
# RABBITMQ_DEFAULT_USER stays.
set -eu
rabbitmq-diagnostics -q check_running
rabbitmq-diagnostics -q check_local_alarms
if [ "${VANTHU_IMPORT_DEFINITIONS:-}" = "1" ] && ! rabbitmqctl -q list_policies | grep -q vanthu-work; then
    rabbitmqctl -q import_definitions /etc/rabbitmq/vanthu-definitions.json
fi
