#!/bin/sh
# The stack writes pgbouncer.ini and the auth file into the running container
# (components/poolerConfig.ts); until then there is nothing to serve. Then
# pgbouncer runs as PID 1, so the stack's SIGHUP reloads it without dropping
# a client (the shell waiting here has no handler, and PID 1 ignores it).
set -eu
conf=/etc/pgbouncer/app-databases/pgbouncer.ini
while [ ! -s "$conf" ]; do sleep 0.2; done
exec pgbouncer "$conf"
