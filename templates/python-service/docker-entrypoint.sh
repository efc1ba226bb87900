#!/bin/sh
# Runs the database migrations (idempotent), then the command (gunicorn) as PID 1's replacement.
set -eu
python3 -m app.migrate
exec "$@"
