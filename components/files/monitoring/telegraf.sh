#!/bin/sh
# Entrypoint of Telegraf: the InfluxDB writer password comes from its Swarm secret file into the one
# variable the configuration references, never into the service definition.
set -eu
INFLUX_PASSWORD="$(cat "${INFLUX_PASSWORD_FILE:?}")"
export INFLUX_PASSWORD
exec telegraf --config "${TELEGRAF_CONFIG:?}"
