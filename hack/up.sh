#!/usr/bin/env bash
# Start the whole test stack (standalone MariaDB, an empty restore-target MariaDB, 3-node Galera, MinIO, etcd + kube-apiserver,
# a node: controller-manager, scheduler, containerd, kubelet, kube-proxy; the Lifeboat admission webhook and runner) and write
# $STATE/stack.env. Reuses whatever is already up and healthy; builds are cached.
#
#   hack/up.sh && source .lifeboat/stack.env
#   hack/up.sh --no-node      # (or LIFEBOAT_NODE=0) the API server alone, as envtest: faster, no root needed for it
set -euo pipefail
LIFEBOAT_COMPONENT=up
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HACK="$REPO/hack"
for arg in "$@"; do
  case "$arg" in
    --no-node) export LIFEBOAT_NODE=0 ;;
    *) die "unknown argument '$arg'" "usage: $0 [--no-node]" ;;
  esac
done
export LIFEBOAT_NODE="${LIFEBOAT_NODE:-1}"
COMPONENTS=(mariadb mariadb-target galera minio kube)
node_enabled && COMPONENTS+=(node)

ensure_dirs
start=$SECONDS

# Components this run brought up (not ones it found running); a failure stops only these,
# so a broken `up` leaves the machine as it found it.
brought_up=()
undo() {
  local rc=$? i
  if [[ $rc -ne 0 && ${#brought_up[@]} -gt 0 ]]; then
    warn "stack startup failed; stopping what this run started: ${brought_up[*]}"
    for ((i = ${#brought_up[@]} - 1; i >= 0; i--)); do bash "$HACK/${brought_up[$i]}.sh" down || true; done
  fi
  exit $rc
}
trap undo EXIT

# A node left running from an earlier `up` goes when this one runs without it: kube.sh restarts
# the API server without the node's flags, and a kubelet against it would only fail.
node_enabled || bash "$HACK/node.sh" down

for c in "${COMPONENTS[@]}"; do
  t=$SECONDS
  bash "$HACK/$c.sh" status >/dev/null 2>&1 || brought_up+=("$c")
  bash "$HACK/$c.sh" up
  log "$c up in $((SECONDS - t))s"
done

q() { printf "'%s'" "$1"; } # values are paths, ports and hex secrets: no quotes inside
# With the node: where pods reach the host's services (forwarded from 127.0.0.1), its name.
node_vars() {
  node_enabled || { echo "export LIFEBOAT_NODE='0'"; return 0; }
  node_net_vars
  echo "export LIFEBOAT_NODE='1'"
  echo "export LIFEBOAT_NODE_NAME=$(q "$NODE_NAME")"
  echo "export LIFEBOAT_NODE_HOST_IP=$(q "$NODE_HOST_IP")"
  echo "export LIFEBOAT_NODE_PROBE_IMAGE=$(q "$(bash "$HACK/node.sh" probe-image)")"
}
bin_path="$(bash "$HACK/kube.sh" bin-dir):$(bash "$HACK/minio.sh" bin-dirs | cut -d' ' -f2)"
env_file="$STATE/stack.env"
(umask 077 && cat >"$env_file.tmp" <<EOF2
# Written by hack/up.sh on $(date -u +%FT%TZ). Source it: . $env_file
export KUBECONFIG=$(q "$STATE/kube/kubeconfig")
export S3_ENDPOINT=$(q "http://127.0.0.1:${MINIO_PORT:-19000}")
export S3_ACCESS_KEY=$(q "$(cat "$SECRETS_DIR/minio-access-key")")
export S3_SECRET_KEY=$(q "$(cat "$SECRETS_DIR/minio-secret-key")")
export S3_BUCKET=$(q "${S3_BUCKET:-lifeboat}")
export S3_REGION='us-east-1'
export S3_FORCE_PATH_STYLE='true'
export MARIADB_HOST='127.0.0.1'
export MARIADB_PORT=$(q "${MARIADB_PORT:-13306}")
export MARIADB_SOCKET=$(q "$STATE/mariadb/mysqld.sock")
export MARIADB_TARGET_PORT=$(q "${MARIADB_TARGET_PORT:-13310}")
export MARIADB_TARGET_SOCKET=$(q "$STATE/mariadb-target/mysqld.sock")
export GALERA_PORTS=$(q "$(bash "$HACK/galera.sh" ports)")
export GALERA_SOCKETS=$(q "$(bash "$HACK/galera.sh" sockets)")
export MARIADB_USER=$(q "${MARIADB_USER:-lifeboat}")
export MARIADB_PASSWORD=$(q "$(cat "$SECRETS_DIR/mariadb-password")")
export MARIADB_TLS_DIR=$(q "$STATE/mariadb-tls")
export MARIADB_TLS_USER=$(q "${MARIADB_TLS_USER:-lifeboat_x509}")
export MC_CONFIG_DIR=$(q "$STATE/minio/mc")
export LIFEBOAT_WEBHOOK_URL=$(q "https://127.0.0.1:${WEBHOOK_PORT:-19443}")
export LIFEBOAT_WEBHOOK_CA=$(q "$STATE/webhook/tls/ca.crt")
export LIFEBOAT_RUNNER_URL=$(q "http://127.0.0.1:${RUNNER_PORT:-19090}")
export LIFEBOAT_BIN_PATH=$(q "$bin_path")
$(node_vars)
case ":\$PATH:" in *":\$LIFEBOAT_BIN_PATH:"*) ;; *) export PATH="\$LIFEBOAT_BIN_PATH:\$PATH" ;; esac
EOF2
)
mv "$env_file.tmp" "$env_file"

# The CRDs too, so that `kubectl apply -f crds/samples/` works straight away. The stack's CRDs are
# this tree's, whoever applied them before: a Helm install keeps its CRDs after uninstall, and
# without --force-conflicts the next start would fail on Helm owning .spec.versions.
kubectl_bin="$(bash "$HACK/kube.sh" bin-dir)/kubectl"
crd_names=(clusters backups scheduledbackups restores)
KUBECONFIG="$STATE/kube/kubeconfig" "$kubectl_bin" apply --server-side --force-conflicts --field-manager=lifeboat-up \
  -f "$REPO"/crds/lifeboat.dev_clusters.yaml -f "$REPO"/crds/lifeboat.dev_backups.yaml \
  -f "$REPO"/crds/lifeboat.dev_scheduledbackups.yaml -f "$REPO"/crds/lifeboat.dev_restores.yaml >/dev/null
for n in "${crd_names[@]}"; do
  KUBECONFIG="$STATE/kube/kubeconfig" "$kubectl_bin" wait --for=condition=Established --timeout=60s "crd/$n.lifeboat.dev" >/dev/null
done
log "installed the Lifeboat CRDs"
bash "$HACK/samples.sh"

# The webhook last: it registers with the API server and reads the CRDs' kinds.
t=$SECONDS
bash "$HACK/webhook.sh" status >/dev/null 2>&1 || brought_up+=(webhook)
bash "$HACK/webhook.sh" up
log "webhook up in $((SECONDS - t))s"
t=$SECONDS
bash "$HACK/runner.sh" status >/dev/null 2>&1 || brought_up+=(runner)
bash "$HACK/runner.sh" up
log "runner up in $((SECONDS - t))s"
trap - EXIT
log "stack up in $((SECONDS - start))s; wrote $env_file"
log "use it: source $env_file && kubectl get ns && mc ls lifeboat/"
