#!/usr/bin/env bash
# A standalone MariaDB 10.11 (Debian's) on 127.0.0.1 with binlog and GTIDs on, and the
# `lifeboat` account. Its password is in $STATE/secrets/mariadb-password.
#
#   hack/mariadb.sh up | down | status | clean
#
# Port: MARIADB_PORT=13306. Socket: $STATE/mariadb/mysqld.sock.
set -euo pipefail
LIFEBOAT_COMPONENT=mariadb
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
# shellcheck source=hack/mariadb-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mariadb-lib.sh"

PORT="${MARIADB_PORT:-13306}"
DIR="$STATE/mariadb"
SOCK="$DIR/mysqld.sock"

write_cnf() {
  mkdir -p "$DIR"
  {
    echo "[mysqld]"
    common_mysqld_cnf "$DIR" "$PORT"
    echo "server_id = 1"
  } >"$DIR/my.cnf"
}

healthy() { mariadb_alive "$SOCK" && check_tcp_login "$PORT"; }

up() {
  ensure_dirs
  need_mariadb
  check_socket_path "$SOCK"
  if ! reuse_or_clear mariadb mariadb_alive "$SOCK"; then
    need_free_port "$PORT" "the standalone MariaDB" MARIADB_PORT
    write_cnf
    install_datadir mariadb "$DIR"
    start_bg mariadb "$LOG_DIR/mariadb.log" "$MARIADBD" --defaults-file="$DIR/my.cnf"
    wait_for mariadb 60 "accepting connections on $SOCK" mariadb_alive "$SOCK"
  fi
  root_sql "$SOCK" "$(lifeboat_user_sql "$(secret mariadb-password)")"
  wait_for mariadb 30 "accepting the $DB_USER account over TCP on port $PORT" check_tcp_login "$PORT"
  log "ready: mariadb -h127.0.0.1 -P$PORT -u$DB_USER -p\$(cat $SECRETS_DIR/mariadb-password)   (socket $SOCK)"
}

down() { stop_proc mariadb 60; }

status() {
  if is_running mariadb && healthy >/dev/null 2>&1; then
    echo "mariadb: running (pid $(pid_of mariadb)), 127.0.0.1:$PORT, socket $SOCK"
  else
    echo "mariadb: down"; return 1
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR" ;;
  *) echo "usage: $0 up|down|status|clean" >&2; exit 2 ;;
esac
