#!/usr/bin/env bash
# Stop everything hack/ started, by the PIDs in $STATE/run/*.pid. Data, secrets and the build
# cache stay, so the next hack/up.sh is a warm start. To wipe the data: hack/down.sh --clean.
set -euo pipefail
LIFEBOAT_COMPONENT=down
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HACK="$REPO/hack"

[[ -d "$STATE" ]] || { log "nothing to stop ($STATE does not exist)"; exit 0; }
ensure_dirs
verb=down
[[ "${1:-}" == --clean ]] && verb=clean
# Reverse start order; galera.sh stops its nodes so that node 1 is safe to bootstrap next time.
for c in runner webhook node kube minio galera mariadb-target mariadb; do bash "$HACK/$c.sh" "$verb"; done
# Anything else recorded (a component a later script adds, or a renamed one) goes too.
for pf in "$RUN_DIR"/*.pid; do
  [[ -e "$pf" ]] || continue
  stop_proc "$(basename "$pf" .pid)" 30
done
rm -f "$STATE/stack.env"
# The node touched the host (namespaces, a veth, a route, cgroups): say so if any of it is left.
bash "$HACK/node.sh" host-check
log "stack stopped"
