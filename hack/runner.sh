#!/usr/bin/env bash
# The Lifeboat runner as a process on 127.0.0.1, against the local kube-apiserver, with the process
# executor: it claims new Backups in every namespace and runs `lifeboat worker backup` as local
# processes, which reach the stack's MariaDB, Galera and MinIO on loopback.
#
#   hack/runner.sh up | down | restart | status
#
# Port: RUNNER_PORT=19090 (/healthz, /metrics). Logs: $STATE/log/runner.log, workers in
# $STATE/log/workers.log. Needs the kube component up and `npm run build` done. `restart` after
# a rebuild: a running runner is reused. The Lease is default/lifeboat-runner.
set -euo pipefail
LIFEBOAT_COMPONENT=runner
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${RUNNER_PORT:-19090}"
ENTRY="$REPO/dist/cmd/lifeboat.js"
export KUBECONFIG="$STATE/kube/kubeconfig"

healthy() { curl -fsS --max-time 5 "http://127.0.0.1:$PORT/healthz" -o /dev/null; }

up() {
  ensure_dirs
  need_apt curl
  need_cmd node "install Node.js 20.19 or newer"
  [[ -f "$ENTRY" ]] || die "$ENTRY is missing" "run npm ci (or npm run build) first"
  bash "$REPO/hack/kube.sh" status >/dev/null || die "the kube-apiserver is not running" "run hack/kube.sh up first (npm run up does)"
  if ! reuse_or_clear runner healthy; then
    need_free_port "$PORT" "Lifeboat runner" RUNNER_PORT
    # The dump tools come from PATH; Debian puts mariabackup's helpers there too. A short worker
    # heartbeat: its Lease renewed every few seconds, a worker given up is stopped within them.
    start_bg runner "$LOG_DIR/runner.log" node "$ENTRY" runner --listen "127.0.0.1:$PORT" \
      --lease-namespace default --executor process --worker-log "$LOG_DIR/workers.log" \
      --worker-heartbeat 10
    wait_for runner 60 "healthy (http://127.0.0.1:$PORT/healthz)" healthy
  fi
  log "ready: http://127.0.0.1:$PORT (log: $LOG_DIR/runner.log, workers: $LOG_DIR/workers.log)"
}

down() { stop_proc runner 30; }

status() {
  if is_running runner && healthy; then echo "runner: running (pid $(pid_of runner)), http://127.0.0.1:$PORT"; else echo "runner: down"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  restart) down; up ;;
  status) status ;;
  clean) down ;;
  *) die "usage: $0 up|down|restart|status" "pick one of those" ;;
esac
