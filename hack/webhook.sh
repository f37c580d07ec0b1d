#!/usr/bin/env bash
# The admission webhook as a process on 127.0.0.1, registered with the local kube-apiserver through
# webhook/manifests/local (URL clientConfig). It makes its own CA (--self-signed, kept under
# $STATE/webhook/tls) and injects it into the configurations' caBundle.
#
#   hack/webhook.sh up | down | restart | status | clean
#
# Port: WEBHOOK_PORT=19443 (configurations() writes it into webhook/manifests/local). Needs the kube component up and
# `npm run build` done (npm ci does it). `restart` after a rebuild: a running webhook is reused.
set -euo pipefail
LIFEBOAT_COMPONENT=webhook
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${WEBHOOK_PORT:-19443}"
DIR="$STATE/webhook"
ENTRY="$REPO/dist/cmd/lifeboat.js"
export KUBECONFIG="$STATE/kube/kubeconfig"

kubectl() { "$(bash "$REPO/hack/kube.sh" bin-dir)/kubectl" "$@"; }

ready() { curl -fsSk --max-time 5 "https://127.0.0.1:$PORT/readyz" -o /dev/null; }

up() {
  ensure_dirs
  need_apt curl
  need_cmd node "install Node.js 20.19 or newer"
  [[ -f "$ENTRY" ]] || die "$ENTRY is missing" "run npm ci (or npm run build) first"
  bash "$REPO/hack/kube.sh" status >/dev/null || die "the kube-apiserver is not running" "run hack/kube.sh up first (npm run up does)"
  # The configurations first: the webhook injects its CA into them, and is ready once it has.
  configurations | kubectl apply -f - >/dev/null
  if ! reuse_or_clear webhook ready; then
    need_free_port "$PORT" "Lifeboat webhook" WEBHOOK_PORT
    mkdir -p "$DIR"
    # LIFEBOAT_MIN_SCHEDULE_INTERVAL=1s lets schedules fire every second, to watch (and test) them
    # at work; the floor is otherwise the product's, 5 minutes.
    start_bg webhook "$LOG_DIR/webhook.log" node "$ENTRY" webhook --self-signed --cert-dir "$DIR/tls" \
      --listen "127.0.0.1:$PORT" --tls-hosts 127.0.0.1,localhost \
      --min-schedule-interval "${LIFEBOAT_MIN_SCHEDULE_INTERVAL:-5m}"
    wait_for webhook 60 "ready (https://127.0.0.1:$PORT/readyz)" ready
  fi
  log "ready: https://127.0.0.1:$PORT (log: $LOG_DIR/webhook.log)"
}

# The local configurations, calling this stack's port (a second stack on other ports must not
# send its reviews to the first one's webhook).
configurations() {
  kubectl kustomize "$REPO/webhook/manifests/local" | sed "s#https://127.0.0.1:19443/#https://127.0.0.1:$PORT/#"
}

# Without the process, its Fail-policy configurations would refuse every Lifeboat object, so they go too.
down() {
  if bash "$REPO/hack/kube.sh" status >/dev/null 2>&1; then
    configurations | kubectl delete -f - --ignore-not-found >/dev/null || warn "could not delete the webhook configurations"
  fi
  stop_proc webhook 30
}

status() {
  if is_running webhook && ready; then echo "webhook: running (pid $(pid_of webhook)), https://127.0.0.1:$PORT"; else echo "webhook: down"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  restart) down; up ;;
  status) status ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR" ;;
  *) die "usage: $0 up|down|restart|status|clean" "pick one of those" ;;
esac
