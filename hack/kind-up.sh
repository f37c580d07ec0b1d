#!/usr/bin/env bash
# For workstations with Docker (not the CI machines, which have none): a kind cluster plus
# MinIO in a container, for the same e2e suite. Writes $STATE/stack.env with the S3 and
# Kubernetes variables; MariaDB/Galera still come from hack/mariadb.sh and hack/galera.sh.
#
#   hack/kind-up.sh          create (or reuse) cluster "lifeboat" and container "lifeboat-minio"
#   hack/kind-up.sh down     delete both
set -euo pipefail
LIFEBOAT_COMPONENT=kind
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLUSTER=lifeboat
MINIO_IMAGE="${MINIO_IMAGE:-quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.32.2}"
PORT="${MINIO_PORT:-19000}"

need_cmd docker "install Docker; this script is for workstations (CI uses hack/up.sh)"
need_cmd kind "go install sigs.k8s.io/kind@v0.27.0"
need_cmd kubectl "install kubectl matching $KIND_NODE_IMAGE"

if [[ "${1:-}" == down ]]; then
  kind delete cluster --name "$CLUSTER"
  docker rm -f lifeboat-minio >/dev/null 2>&1 || true
  rm -f "$STATE/stack.env"
  exit 0
fi

ensure_dirs
kind get clusters | grep -qx "$CLUSTER" ||
  kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --kubeconfig "$STATE/kind-kubeconfig" --wait 120s
kind get kubeconfig --name "$CLUSTER" >"$STATE/kind-kubeconfig"

access="$(secret minio-access-key)"
secret_key="$(secret minio-secret-key)"
if ! docker inspect lifeboat-minio >/dev/null 2>&1; then
  need_free_port "$PORT" "MinIO S3 API" MINIO_PORT
  # `-e NAME` without a value: docker takes it from our environment, so no key is an argument.
  MINIO_ROOT_USER="$access" MINIO_ROOT_PASSWORD="$secret_key" \
    docker run -d --name lifeboat-minio -p "127.0.0.1:$PORT:9000" -e MINIO_ROOT_USER -e MINIO_ROOT_PASSWORD \
    "$MINIO_IMAGE" server /data >/dev/null
fi
until curl -fsS "http://127.0.0.1:$PORT/minio/health/ready" >/dev/null 2>&1; do sleep 1; done
MC_HOST_s3="http://$access:$secret_key@127.0.0.1:$PORT" \
  docker run --rm --network host -e MC_HOST_s3 quay.io/minio/mc mb --ignore-existing s3/lifeboat >/dev/null

(umask 077 && cat >"$STATE/stack.env" <<EOF2
# Written by hack/kind-up.sh. MariaDB variables: run hack/mariadb.sh / hack/galera.sh too.
export KUBECONFIG='$STATE/kind-kubeconfig'
export S3_ENDPOINT='http://127.0.0.1:$PORT'
export S3_ACCESS_KEY='$access'
export S3_SECRET_KEY='$secret_key'
export S3_BUCKET='lifeboat'
export S3_REGION='us-east-1'
export S3_FORCE_PATH_STYLE='true'
EOF2
)
log "kind cluster '$CLUSTER' and MinIO ready; source $STATE/stack.env"
