#!/usr/bin/env bash
# The restore target: a second standalone MariaDB 10.11 that starts empty, for restores to be
# applied to. Same settings and `lifeboat` account as the standalone server.
#
#   hack/mariadb-target.sh up | down | status | clean | empty
#
# Port: MARIADB_TARGET_PORT=13310. Socket: $STATE/mariadb-target/mysqld.sock.
set -euo pipefail
MARIADB_INSTANCE=target exec bash "$(dirname "${BASH_SOURCE[0]}")/mariadb.sh" "$@"
