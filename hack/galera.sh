#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on loopback, with the same `lifeboat` account as the
# standalone server (created once on the bootstrap node; Galera replicates it).
#
#   hack/galera.sh up | down | status | clean | stop-node N | start-node N
#
# Ports, node i = 1..3 (override the bases):
#   SQL   GALERA_PORT=13307       -> 13307 13308 13309
#   gcomm GALERA_GCOMM_PORT=14567 -> 14567 14577 14587   (IST: gcomm + 1)
#   SST   GALERA_SST_PORT=14444   -> 14444 14445 14446
# Galera's IST port defaults to gcomm + 1 and its SST port to 4444 on every node, so on one
# host each node needs its own ist.recv_addr and wsrep_sst_receive_address.
set -euo pipefail
LIFEBOAT_COMPONENT=galera
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
# shellcheck source=hack/mariadb-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/mariadb-lib.sh"

SQL_BASE="${GALERA_PORT:-13307}"
GCOMM_BASE="${GALERA_GCOMM_PORT:-14567}"
SST_BASE="${GALERA_SST_PORT:-14444}"
NODES=(1 2 3)
PROVIDER=/usr/lib/galera/libgalera_smm.so

node_dir() { echo "$STATE/galera/node$1"; }
node_sock() { echo "$(node_dir "$1")/mysqld.sock"; }
sql_port() { echo $((SQL_BASE + $1 - 1)); }
gcomm_port() { echo $((GCOMM_BASE + ($1 - 1) * 10)); }
sst_port() { echo $((SST_BASE + $1 - 1)); }

write_cnf() {
  local i="$1" dir gcomm peers="" n
  dir="$(node_dir "$i")"
  gcomm="$(gcomm_port "$i")"
  for n in "${NODES[@]}"; do peers+="${peers:+,}127.0.0.1:$(gcomm_port "$n")"; done
  mkdir -p "$dir/data" "$dir/tmp"
  # Galera's recommended GTID setup: one server_id and one wsrep_gtid_domain_id cluster-wide
  # (so every node's binlog has the same GTIDs), a distinct gtid_domain_id per node for
  # writes that bypass replication.
  {
    echo "[mysqld]"
    common_mysqld_cnf "$dir" "$(sql_port "$i")"
    cat <<EOF
server_id = 100
wsrep_gtid_mode = ON
wsrep_gtid_domain_id = 100
gtid_domain_id = $((100 + i))
innodb_autoinc_lock_mode = 2
innodb_flush_log_at_trx_commit = 2
wsrep_on = ON
wsrep_provider = $PROVIDER
wsrep_cluster_name = lifeboat-galera
wsrep_cluster_address = gcomm://$peers
wsrep_node_name = node$i
wsrep_node_address = 127.0.0.1
wsrep_node_incoming_address = 127.0.0.1:$(sql_port "$i")
wsrep_sst_receive_address = 127.0.0.1:$(sst_port "$i")
wsrep_provider_options = "base_host=127.0.0.1;base_port=$gcomm;gmcast.listen_addr=tcp://127.0.0.1:$gcomm;ist.recv_addr=127.0.0.1:$((gcomm + 1));gcache.size=64M"
wsrep_sst_method = mariabackup
wsrep_sst_auth = sst:$(secret galera-sst-password)
EOF
  } >"$dir/my.cnf"
}

wsrep_var() { root_sql "$(node_sock "$1")" "SHOW STATUS LIKE '$2'" 2>/dev/null | cut -f2; }
node_synced() { [[ "$(wsrep_var "$1" wsrep_local_state_comment)" == Synced ]]; }
node_primary() { [[ "$(wsrep_var "$1" wsrep_cluster_status)" == Primary ]]; }

cluster_healthy() {
  local i
  for i in "${NODES[@]}"; do
    is_running "galera-node$i" && node_synced "$i" && [[ "$(wsrep_var "$i" wsrep_cluster_size)" == 3 ]] || return 1
  done
}

safe_to_bootstrap() {
  local g; g="$(node_dir "$1")/data/grastate.dat"
  [[ -f "$g" ]] && grep -q '^safe_to_bootstrap: 1' "$g"
}

# Which node may start a new cluster: the one Galera marked safe (the last to stop cleanly),
# or node 1 on a fresh datadir. If every node crashed, none is marked: force node 1 and let
# the others take a full SST from it (this is disposable test data).
pick_bootstrap_node() {
  local i g1
  g1="$(node_dir 1)/data/grastate.dat"
  # Galera writes grastate.dat on first start: without one, node 1 is fresh.
  [[ -f "$g1" ]] || { echo 1; return; }
  for i in "${NODES[@]}"; do safe_to_bootstrap "$i" && { echo "$i"; return; }; done
  warn "no node is marked safe_to_bootstrap (the cluster did not stop cleanly); forcing node 1 and re-syncing nodes 2 and 3 from it by full SST"
  if [[ -f "$g1" ]]; then sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$g1"; fi
  for i in 2 3; do rm -f "$(node_dir "$i")/data/grastate.dat"; done
  echo 1
}

start_node() {
  local i="$1" mode="$2" extra=()
  clear_stale "galera-node$i"
  need_free_port "$(sql_port "$i")" "Galera node $i SQL" GALERA_PORT
  need_free_port "$(gcomm_port "$i")" "Galera node $i gcomm" GALERA_GCOMM_PORT
  need_free_port "$(($(gcomm_port "$i") + 1))" "Galera node $i IST (gcomm + 1)" GALERA_GCOMM_PORT
  need_free_port "$(sst_port "$i")" "Galera node $i SST" GALERA_SST_PORT
  write_cnf "$i"
  [[ "$mode" == bootstrap ]] && extra=(--wsrep-new-cluster)
  start_bg "galera-node$i" "$LOG_DIR/galera-node$i.log" "$MARIADBD" --defaults-file="$(node_dir "$i")/my.cnf" "${extra[@]}"
  # A joiner with an empty datadir first receives a full SST (mariabackup over socat).
  wait_for "galera-node$i" 180 "Synced ($mode)" node_synced "$i"
  log "node $i Synced (pid $(pid_of "galera-node$i"), port $(sql_port "$i"))"
}

create_accounts() {
  local sock pw
  sock="$(node_sock "$1")"
  pw="$(secret galera-sst-password)"
  # The SST donor runs mariabackup over the socket as this user.
  root_sql "$sock" "CREATE USER IF NOT EXISTS 'sst'@'localhost' IDENTIFIED BY '$pw';
    ALTER USER 'sst'@'localhost' IDENTIFIED BY '$pw';
    GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'sst'@'localhost';"
  root_sql "$sock" "$(lifeboat_user_sql "$(secret mariadb-password)" SUPER)"
}

up() {
  ensure_dirs
  need_mariadb
  [[ -f "$PROVIDER" ]] || die "the Galera provider $PROVIDER is missing" "apt-get install --reinstall galera-4"
  local i running=() primary="" boot
  for i in "${NODES[@]}"; do check_socket_path "$(node_sock "$i")"; done
  if cluster_healthy; then
    log "already running: 3 nodes Synced"
  else
    for i in "${NODES[@]}"; do
      if is_running "galera-node$i"; then running+=("$i"); node_primary "$i" && primary="$i"; fi
    done
    if [[ ${#running[@]} -gt 0 && -z "$primary" ]]; then
      # Left over from a half-started run: without a Primary component they cannot serve
      # or donate, so stop them (by PID) and bootstrap afresh.
      warn "Galera nodes ${running[*]} are running but none is in a Primary component; restarting the cluster"
      down
    fi
    if [[ -z "$primary" ]]; then
      boot="$(pick_bootstrap_node)"
      [[ "$boot" == 1 ]] && { write_cnf 1; install_datadir galera-node1 "$(node_dir 1)"; }
      start_node "$boot" bootstrap
      # Before any joiner: a donor's SST needs the sst account.
      create_accounts "$boot"
    fi
    # One joiner at a time: a donor serves one SST at a time anyway.
    for i in "${NODES[@]}"; do is_running "galera-node$i" || start_node "$i" join; done
    wait_for "galera-node1" 60 "in a 3-node Synced cluster" cluster_healthy
  fi
  # Re-applied on every run so the accounts converge to what this script declares.
  create_accounts 1
  for i in "${NODES[@]}"; do
    wait_for "galera-node$i" 30 "accepting the $DB_USER account over TCP" check_tcp_login "$(sql_port "$i")"
  done
  log "ready: ports $(ports), sockets $(sockets)"
}

ports() { local i o=""; for i in "${NODES[@]}"; do o+="${o:+ }$(sql_port "$i")"; done; echo "$o"; }
sockets() { local i o=""; for i in "${NODES[@]}"; do o+="${o:+ }$(node_sock "$i")"; done; echo "$o"; }

# Stop in reverse, so node 1 leaves last and Galera marks it safe to bootstrap next time.
down() {
  local i
  for i in 3 2 1; do stop_proc "galera-node$i" 90; done
}

status() {
  local i rc=0
  for i in "${NODES[@]}"; do
    if is_running "galera-node$i"; then
      echo "galera node $i: pid $(pid_of "galera-node$i"), port $(sql_port "$i"), $(wsrep_var "$i" wsrep_local_state_comment), cluster size $(wsrep_var "$i" wsrep_cluster_size)"
    else
      echo "galera node $i: down"; rc=1
    fi
  done
  cluster_healthy || rc=1
  return $rc
}

# One node, for tests of what an unhealthy cluster gets: stopped by PID, rejoined with IST.
node_arg() {
  [[ "${1:-}" =~ ^[123]$ ]] || die "give the node number (1, 2 or 3)" "e.g. $0 stop-node 3"
  echo "$1"
}

case "${1:-}" in
  up) up ;;
  stop-node) stop_proc "galera-node$(node_arg "${2:-}")" 90 ;;
  start-node) n="$(node_arg "${2:-}")"; is_running "galera-node$n" || start_node "$n" join ;;
  down) down ;;
  status) status ;;
  ports) ports ;;
  sockets) sockets ;;
  clean) down; rm -rf "$STATE/galera"; log "removed $STATE/galera" ;;
  *) echo "usage: $0 up|down|status|clean|ports|sockets|stop-node N|start-node N" >&2; exit 2 ;;
esac
