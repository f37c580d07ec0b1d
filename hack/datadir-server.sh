#!/usr/bin/env bash
# Debian's mariadbd on a data directory that `lifeboat restore-datadir` made, on 127.0.0.1:PORT,
# to check a physical restore. The data directory's own accounts and grants are kept (no
# --skip-grant-tables): a backup of the hack/ stack brings its `lifeboat` account, whose password
# is the stack's $STATE/secrets/mariadb-password, and root over the socket.
#
#   hack/datadir-server.sh up DIR PORT | down DIR | status DIR
#
# A plain server, wsrep off, also for a Galera member's backup (README "Physical restores" says
# how a node would bootstrap a new cluster from it instead). Its config, socket, pidfile and log
# live in DIR's parent, in .mariadbd-<basename DIR>/, so several can run side by side and none
# touches the stack's state or lock.
set -euo pipefail

usage() { echo "usage: $0 up DIR PORT | down DIR | status DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
VERB="$1"
DATADIR="$(realpath -m -- "$2")"
PORT="${3:-}"
SERVER_DIR="$(dirname "$DATADIR")/.mariadbd-$(basename "$DATADIR")"

# lib.sh keeps pidfiles and logs under $STATE: here, this server's own directory.
export LIFEBOAT_STATE="$SERVER_DIR"
unset LIFEBOAT_LOCKED
LIFEBOAT_COMPONENT=datadir-server
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
# shellcheck source=hack/mariadb-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mariadb-lib.sh"

SOCK="$SERVER_DIR/mysqld.sock"
NAME=mariadbd

write_cnf() {
  mkdir -p "$SERVER_DIR/tmp"
  cat >"$SERVER_DIR/my.cnf" <<EOF
[mysqld]
user = $(id -un)
datadir = $DATADIR
socket = $SOCK
pid-file = $SERVER_DIR/mysqld.pid
tmpdir = $SERVER_DIR/tmp
port = $PORT
bind-address = 127.0.0.1
skip-name-resolve
# A check of restored data, not a replica or a cluster member: no binlog, no replication
# threads, no Galera even when the backup came from a Galera node.
skip-slave-start
wsrep_on = OFF
innodb_buffer_pool_size = 64M
performance_schema = OFF
max_connections = 20
EOF
}

# Liveness only: `ping` succeeds even when the server refuses the account, which is not ours to know.
alive() { mariadb-admin --no-defaults --connect-timeout=5 -S "$SOCK" ping; }

up() {
  [[ "$PORT" =~ ^[0-9]+$ ]] || usage
  [[ -d "$DATADIR" ]] || die "$DATADIR is not a directory" "restore into it first: lifeboat restore-datadir --to $DATADIR …"
  [[ -e "$DATADIR/ibdata1" || -d "$DATADIR/mysql" ]] || die "$DATADIR holds no data directory (no ibdata1, no mysql/)" \
    "restore into it first: lifeboat restore-datadir --to $DATADIR …"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  need_mariadb
  check_socket_path "$SOCK"
  if reuse_or_clear "$NAME" alive; then return 0; fi
  need_free_port "$PORT" "mariadbd on $DATADIR" PORT
  write_cnf
  start_bg "$NAME" "$LOG_DIR/$NAME.log" "$MARIADBD" --defaults-file="$SERVER_DIR/my.cnf"
  wait_for "$NAME" 120 "accepting connections on $SOCK" alive
  wait_for_port "$NAME" "$PORT" 30
  log "ready: mariadbd on $DATADIR, 127.0.0.1:$PORT, socket $SOCK (log: $LOG_DIR/$NAME.log)"
}

down() {
  [[ -d "$SERVER_DIR" ]] || return 0
  # The directory stays, with the server's log, for whoever reads why a check failed.
  stop_proc "$NAME" 60
}

status() {
  if is_running "$NAME" && alive >/dev/null 2>&1; then
    echo "mariadbd on $DATADIR: running (pid $(pid_of "$NAME")), socket $SOCK"
  else
    echo "mariadbd on $DATADIR: down"
    return 1
  fi
}

case "$VERB" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
