#!/usr/bin/env bash
# etcd + kube-apiserver on loopback, started the way controller-runtime's envtest starts them.
# Writes $STATE/kube/kubeconfig. With the node (hack/node.sh; LIFEBOAT_NODE=1, the default) the
# API server also advertises itself on the node network's host address, so that pods reach it
# through the `kubernetes` Service; with LIFEBOAT_NODE=0 it runs as envtest runs it.
#
#   hack/kube.sh up | down | status | build | clean
#
# Ports (override with the variables): KUBE_ETCD_PORT=12379 (peer: +1), KUBE_API_PORT=16443.
set -euo pipefail
LIFEBOAT_COMPONENT=kube
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

ETCD_PORT="${KUBE_ETCD_PORT:-12379}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
API_PORT="${KUBE_API_PORT:-16443}"
DIR="$STATE/kube"
PKI="$DIR/pki"
KUBECONFIG_FILE="$DIR/kubeconfig"
BIN="$CACHE/kubernetes-$KUBE_VERSION"
node_net_vars

# ---------------------------------------------------------------------------------------------
# Build (see kube_go_build in lib.sh for why a wrapper module)

build_kubernetes() {
  kube_go_build "$1" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  "$1/kube-apiserver" --version && "$1/kubectl" version --client
}

build() {
  ensure_dirs
  go_cached_build kubernetes "$KUBE_VERSION" "$BIN" build_kubernetes
}

# ---------------------------------------------------------------------------------------------
# Certificates: one CA signs the serving cert (IP SAN 127.0.0.1, so webhooks and clients can
# verify it) and the admin client cert (O=system:masters bypasses RBAC, like envtest's admin).

# The serving cert also names the node network's host address and the `kubernetes` Service IP,
# which pods connect to; a cert made before (or for another LIFEBOAT_NODE_NET) is re-issued by
# the same CA, so kubeconfigs stay valid; the API server reloads it from disk.
serving_sans() {
  echo "IP:127.0.0.1,IP:$NODE_HOST_IP,IP:$SERVICE_API_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
}

issue_serving_cert() {
  (
    cd "$PKI"
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key.new -out apiserver.csr -subj "/CN=kube-apiserver"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$(serving_sans)" >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt.new
    chmod 0600 apiserver.key.new
    mv apiserver.key.new apiserver.key && mv apiserver.crt.new apiserver.crt
    rm -f apiserver.csr apiserver.ext
  ) >>"$LOG_DIR/kube-certs.log" 2>&1 || die "openssl failed to issue the API server's certificate (log: $LOG_DIR/kube-certs.log)" \
    "check that openssl works (apt-get install openssl), then: $0 clean && $0 up"
}

gen_certs() {
  if [[ -s "$PKI/admin.crt" && -s "$PKI/sa.key" ]]; then
    if ! openssl x509 -in "$PKI/apiserver.crt" -noout -ext subjectAltName 2>/dev/null | grep -qF "IP Address:$NODE_HOST_IP"; then
      log "re-issuing the API server's certificate for $NODE_HOST_IP and $SERVICE_API_IP"
      issue_serving_cert
    fi
    return 0
  fi
  log "generating certificates in $PKI"
  rm -rf "$PKI" && install -d -m 0700 "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=lifeboat-test-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=lifeboat-admin"
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile admin.ext -out admin.crt
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext
  ) >"$LOG_DIR/kube-certs.log" 2>&1 || die "openssl failed to generate certificates (log: $LOG_DIR/kube-certs.log)" \
    "check that openssl works (apt-get install openssl), then: $0 clean && $0 up"
  issue_serving_cert
  chmod 0600 "$PKI"/*.key
}

# Credentials are embedded, so the file stands alone for kubectl and @kubernetes/client-node.
write_kubeconfig() {
  local tmp="$KUBECONFIG_FILE.tmp"
  (umask 077 && cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lifeboat
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: lifeboat-admin
  user:
    client-certificate-data: $(base64 -w0 "$PKI/admin.crt")
    client-key-data: $(base64 -w0 "$PKI/admin.key")
contexts:
- name: lifeboat
  context:
    cluster: lifeboat
    user: lifeboat-admin
    namespace: default
current-context: lifeboat
EOF
  )
  mv "$tmp" "$KUBECONFIG_FILE"
}

# ---------------------------------------------------------------------------------------------

etcd_healthy() { curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

api_ready() {
  [[ "$(curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$API_PORT/readyz")" == ok ]]
}

start_etcd() {
  reuse_or_clear etcd etcd_healthy && return 0
  need_free_port "$ETCD_PORT" "etcd clients" KUBE_ETCD_PORT
  need_free_port "$ETCD_PEER_PORT" "etcd peers (client port + 1)" KUBE_ETCD_PORT
  install -d -m 0700 "$DIR/etcd"
  # Test data only: skip the per-write fsync wait that makes etcd slow on shared disks.
  start_bg etcd "$LOG_DIR/etcd.log" /usr/bin/etcd --name lifeboat --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "lifeboat=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
    --quota-backend-bytes 2147483648 --snapshot-count 10000
  wait_for etcd 60 "healthy" etcd_healthy
}

# The flags that differ with the node. Without it: no --advertise-address, as envtest (the API
# server rejects a loopback one for the `kubernetes` Service endpoints, and otherwise picks the
# host's default-route address), and no ServiceAccount admission (nothing mints pods' tokens).
# With it: the node network's host address, where a forwarder (node.sh) passes connections to
# 127.0.0.1; webhooks and aggregated APIs called at their endpoints' pod IPs (the host has a
# route to the pods, but no kube-proxy for Service IPs); kubelets reached at their node IP.
apiserver_mode_flags() {
  if node_enabled; then
    echo --advertise-address "$NODE_HOST_IP" --enable-aggregator-routing=true \
      --kubelet-preferred-address-types InternalIP \
      --kubelet-client-certificate "$PKI/admin.crt" --kubelet-client-key "$PKI/admin.key"
  else
    echo --disable-admission-plugins ServiceAccount
  fi
}

# A running API server is reused only when it was started for the same mode.
api_ready_as_wanted() {
  api_ready || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$(pid_of kube-apiserver)/cmdline")"
  if node_enabled; then [[ "$cmdline" == *"--advertise-address $NODE_HOST_IP "* ]]; else [[ "$cmdline" != *--advertise-address* ]]; fi
}

start_apiserver() {
  if is_running kube-apiserver && api_ready && ! api_ready_as_wanted; then
    log "restarting kube-apiserver: it runs $(node_enabled && echo without || echo for) the node"
    stop_proc kube-apiserver 30
  fi
  reuse_or_clear kube-apiserver api_ready_as_wanted && return 0
  need_free_port "$API_PORT" "kube-apiserver" KUBE_API_PORT
  # shellcheck disable=SC2046  # the mode flags are words without spaces
  start_bg kube-apiserver "$LOG_DIR/kube-apiserver.log" "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$API_PORT" --cert-dir "$PKI" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer "https://127.0.0.1:$API_PORT/" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
    --authorization-mode RBAC $(apiserver_mode_flags)
  wait_for kube-apiserver 120 "ready (/readyz)" api_ready
}

up() {
  ensure_dirs
  need_apt "${KUBE_APT_PACKAGES[@]}"
  build
  mkdir -p "$DIR"
  gen_certs
  start_etcd
  start_apiserver
  write_kubeconfig
  log "ready: KUBECONFIG=$KUBECONFIG_FILE (https://127.0.0.1:$API_PORT, kubectl in $BIN)"
}

down() {
  stop_proc kube-apiserver 30
  stop_proc etcd 30
}

status() {
  local rc=0
  if is_running etcd && etcd_healthy; then echo "etcd: running (pid $(pid_of etcd)), port $ETCD_PORT"; else echo "etcd: down"; rc=1; fi
  if is_running kube-apiserver && api_ready; then echo "kube-apiserver: ready (pid $(pid_of kube-apiserver)), https://127.0.0.1:$API_PORT"; else echo "kube-apiserver: down"; rc=1; fi
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  build) build; log "binaries in $BIN" ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR (the build cache in $CACHE is kept)" ;;
  bin-dir) echo "$BIN" ;;
  *) echo "usage: $0 up|down|status|build|clean" >&2; exit 2 ;;
esac
