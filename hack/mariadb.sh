#!/usr/bin/env bash
# A standalone MariaDB 10.11 (Debian's) on 127.0.0.1 with binlog and GTIDs on, TLS on (optional
# for clients), the `lifeboat` account, and `lifeboat_x509`, the same with REQUIRE X509. The
# password of both is in $STATE/secrets/mariadb-password (and, as an option file for the client,
# $STATE/secrets/mariadb-client.cnf); the CA and the certificates in $STATE/mariadb-tls/.
#
#   hack/mariadb.sh up | down | status | clean
#   MARIADB_INSTANCE=target hack/mariadb.sh up | down | status | clean | empty
#   MARIADB_INSTANCE=bench hack/mariadb.sh up | down | status | clean | empty
#
# Three instances share this script:
#   standalone (default)  the backup source: port MARIADB_PORT=13306, $STATE/mariadb/
#   target                an empty server that restores are applied to (hack/mariadb-target.sh):
#                         port MARIADB_TARGET_PORT=13310, $STATE/mariadb-target/; `empty` drops
#                         every schema but the system ones, so the next restore finds it empty
#   bench                 a private empty server for bench/restore-bench.ts, which nothing else
#                         uses: port MARIADB_BENCH_PORT=13311, $STATE/mariadb-bench/; `empty` too
# Socket: <state dir>/mysqld.sock.
set -euo pipefail
INSTANCE="${MARIADB_INSTANCE:-standalone}"
case "$INSTANCE" in
  standalone) NAME=mariadb ;;
  target) NAME=mariadb-target ;;
  bench) NAME=mariadb-bench ;;
  *) echo "MARIADB_INSTANCE=$INSTANCE: expected standalone, target or bench" >&2; exit 2 ;;
esac
LIFEBOAT_COMPONENT=$NAME
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
# shellcheck source=hack/mariadb-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mariadb-lib.sh"

if [[ "$INSTANCE" == target ]]; then
  # Its own server_id: a target's binlog must not be mistaken for the source's.
  PORT="${MARIADB_TARGET_PORT:-13310}" PORT_VAR=MARIADB_TARGET_PORT SERVER_ID=2 WHAT="the restore-target MariaDB"
elif [[ "$INSTANCE" == bench ]]; then
  PORT="${MARIADB_BENCH_PORT:-13311}" PORT_VAR=MARIADB_BENCH_PORT SERVER_ID=3 WHAT="the bench's MariaDB"
else
  PORT="${MARIADB_PORT:-13306}" PORT_VAR=MARIADB_PORT SERVER_ID=1 WHAT="the standalone MariaDB"
fi
DIR="$STATE/$NAME"
SOCK="$DIR/mysqld.sock"

write_cnf() {
  mkdir -p "$DIR"
  {
    echo "[mysqld]"
    common_mysqld_cnf "$DIR" "$PORT"
    tls_mysqld_cnf
    echo "server_id = $SERVER_ID"
  } >"$DIR/my.cnf"
}

healthy() { mariadb_alive "$SOCK" && check_tcp_login "$PORT" && check_tls_login "$PORT"; }

up() {
  ensure_dirs
  need_mariadb
  check_socket_path "$SOCK"
  ensure_tls_certs
  if ! reuse_or_clear "$NAME" mariadb_alive "$SOCK"; then
    need_free_port "$PORT" "$WHAT" "$PORT_VAR"
    write_cnf
    install_datadir "$NAME" "$DIR"
    start_bg "$NAME" "$LOG_DIR/$NAME.log" "$MARIADBD" --defaults-file="$DIR/my.cnf"
    wait_for "$NAME" 60 "accepting connections on $SOCK" mariadb_alive "$SOCK"
  fi
  [[ "$(root_sql "$SOCK" "SELECT @@have_ssl")" == YES ]] || die "$WHAT runs without TLS (it was started before TLS was configured)" \
    "restart it: MARIADB_INSTANCE=$INSTANCE $0 down && MARIADB_INSTANCE=$INSTANCE $0 up"
  root_sql "$SOCK" "$(lifeboat_user_sql "$(secret mariadb-password)")"
  root_sql "$SOCK" "$(ACCOUNT="$TLS_ACCOUNT" REQUIRE=X509 lifeboat_user_sql "$(secret mariadb-password)")"
  wait_for "$NAME" 30 "accepting the $DB_USER account over TCP on port $PORT" check_tcp_login "$PORT"
  wait_for "$NAME" 30 "accepting the $TLS_ACCOUNT account over TLS on port $PORT" check_tls_login "$PORT"
  log "ready: mariadb --defaults-file=$(client_cnf) -h127.0.0.1 -P$PORT --protocol=TCP   (socket $SOCK; TLS: $TLS_DIR)"
}

down() { stop_proc "$NAME" 60; }

status() {
  if is_running "$NAME" && healthy >/dev/null 2>&1; then
    echo "$NAME: running (pid $(pid_of "$NAME")), 127.0.0.1:$PORT, socket $SOCK"
  else
    echo "$NAME: down"; return 1
  fi
}

# Drops what a restore put there; the system schemas (and with them the accounts) stay.
empty() {
  [[ "$INSTANCE" != standalone ]] || die "refusing to empty $WHAT" "only the restore target is emptied: MARIADB_INSTANCE=target $0 empty"
  is_running "$NAME" || die "$NAME is not running" "start it: MARIADB_INSTANCE=$INSTANCE $0 up"
  local db
  root_sql "$SOCK" "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')" |
    while IFS= read -r db; do
      root_sql "$SOCK" "DROP DATABASE \`${db//\`/\`\`}\`"
      log "dropped database $db"
    done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  empty) empty ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR" ;;
  *) echo "usage: $0 up|down|status|clean (and, for MARIADB_INSTANCE=target or bench, empty)" >&2; exit 2 ;;
esac
