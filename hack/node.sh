#!/usr/bin/env bash
# A real single-node Kubernetes beside the stack's API server (hack/kube.sh): kube-controller-manager
# and kube-scheduler on the host against 127.0.0.1, and containerd, a kubelet and kube-proxy in a
# network namespace this script creates, inside a private mount namespace. Jobs, pods, Services
# and garbage collection then work as in a cluster; `down` leaves the host as it found it.
#
#   hack/node.sh up | down | status | build | clean | host-check
#   hack/node.sh load <oci-archive> [name]   # import an image into the node's containerd
#   hack/node.sh exec CMD...                 # run CMD in the node's network namespace
#
# Network (see hack/README.md): netns lifeboat-node-<id>, veth host side $LIFEBOAT_NODE_NET.254,
# node side .1 (default 10.250.0), pods on a bridge in the netns ($LIFEBOAT_POD_CIDR, default
# 10.244.0.0/24), a host route to the pods via the node. socat forwards the host's loopback
# services (API server, MinIO, MariaDB) from the veth's host address to 127.0.0.1.
set -euo pipefail
LIFEBOAT_COMPONENT=node
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"
node_net_vars

HACK="$REPO/hack"
DIR="$STATE/node"
BIN="$CACHE/kubernetes-node-$KUBE_VERSION"
KUBE_BIN="$CACHE/kubernetes-$KUBE_VERSION"
PAUSE_DIR="$CACHE/pause-$KUBE_VERSION"
# The tag of the pause image that k8s.io/kubernetes $KUBE_VERSION builds (build/pause/Makefile).
PAUSE_TAG=3.10
PAUSE_IMAGE="lifeboat.local/pause:$PAUSE_TAG"
# A static HTTP client and server for tests of pod networking (hack/node/probe), keyed by its source.
PROBE_TAG="$(cat "$HACK/node/probe/go.mod" "$HACK/node/probe/main.go" | sha256sum | cut -c1-12)"
PROBE_DIR="$CACHE/node-probe-$PROBE_TAG"
PROBE_IMAGE="lifeboat.local/node-probe:$PROBE_TAG"
API_PORT="${KUBE_API_PORT:-16443}"
KCM_PORT="${KUBE_CONTROLLER_MANAGER_PORT:-$((API_PORT + 1))}"
SCHEDULER_PORT="${KUBE_SCHEDULER_PORT:-$((API_PORT + 2))}"
# Host services pods may reach at $NODE_HOST_IP:<same port>.
FORWARD_PORTS="${LIFEBOAT_NODE_FORWARD_PORTS:-$API_PORT ${MINIO_PORT:-19000} ${MARIADB_PORT:-13306} ${MARIADB_TARGET_PORT:-13310}}"
CGROUP_ROOT="/lifeboat-node-$NODE_ID"
SOCK="$DIR/containerd/containerd.sock"
NETNS_FILE="/run/netns/$NODE_NETNS"
# Kernel settings the kubelet writes (it sets what it considers sane defaults); in the node's
# mount namespace each is a bind-mounted plain file, so the host keeps its values.
SHADOWED_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
# What host-check compares between `up` and now: the above, and global ones a node could touch.
WATCHED_SYSCTLS=("${SHADOWED_SYSCTLS[@]}" net/ipv4/ip_forward net/ipv4/conf/all/route_localnet net/netfilter/nf_conntrack_max net/bridge/bridge-nf-call-iptables)

kubectl() { KUBECONFIG="$STATE/kube/kubeconfig" "$KUBE_BIN/kubectl" "$@"; }
in_netns() { nsenter --net="$NETNS_FILE" "$@"; }
ctr_node() { ctr --address "$SOCK" -n k8s.io "$@"; }

# ---------------------------------------------------------------------------------------------
# Build: the node's binaries from the same wrapper module as the API server, and the pause image
# (no registry is reachable) from the pause.c that k8s.io/kubernetes ships.

build_node_bins() {
  kube_go_build "$1" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
  local b
  for b in kubelet kube-controller-manager kube-scheduler kube-proxy; do "$1/$b" --version; done
}

# pack_image OUTDIR TAG BINARY — OUTDIR/image.tar: an OCI layout archive of one static binary
# at /BINARY's name, its entrypoint, run as nobody; `ctr images import --base-name` names it.
pack_image() {
  local out="$1" tag="$2" bin="$3" layout="$1/layout" name
  name="$(basename "$bin")"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci insert --image "$layout:$tag" "$bin" "/$name"
  umoci config --image "$layout:$tag" --config.entrypoint "/$name" --config.user 65534:65534 \
    --os linux --architecture amd64
  umoci gc --layout "$layout"
  tar -C "$layout" -cf "$out/image.tar" .
  rm -rf "$layout"
}

build_pause() {
  local src
  src="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')/build/pause/linux/pause.c"
  [[ -f "$src" ]] || { echo "no $src in the Go module cache" >&2; return 1; }
  mkdir -p "$1/bin"
  gcc -Os -static -Wall -Werror -DVERSION="v$PAUSE_TAG-lifeboat" -o "$1/bin/pause" "$src"
  strip "$1/bin/pause"
  pack_image "$1" "$PAUSE_TAG" "$1/bin/pause"
  rm -rf "$1/bin"
}

build_probe() {
  mkdir -p "$1/bin"
  (cd "$HACK/node/probe" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$1/bin/node-probe" .)
  pack_image "$1" "$PROBE_TAG" "$1/bin/node-probe"
  rm -rf "$1/bin"
}

build() {
  ensure_dirs
  need_apt "${NODE_APT_PACKAGES[@]}"
  go_cached_build kubernetes-node "$KUBE_VERSION" "$BIN" build_node_bins
  go_cached_build pause "$KUBE_VERSION" "$PAUSE_DIR" build_pause
  go_cached_build node-probe "$PROBE_TAG" "$PROBE_DIR" build_probe
}

# ---------------------------------------------------------------------------------------------
# Rendering the templates in hack/node/

render() {
  local tmpl="$HACK/node/$1" out="$2"
  sed -e "s#@DIR@#$DIR#g" -e "s#@NODE_IP@#$NODE_IP#g" -e "s#@NODE_NAME@#$NODE_NAME#g" \
    -e "s#@POD_CIDR@#$NODE_POD_CIDR#g" -e "s#@CGROUP_ROOT@#$CGROUP_ROOT#g" \
    -e "s#@PAUSE_IMAGE@#$PAUSE_IMAGE#g" -e "s#@BRIDGE@#lbn$NODE_ID-br#g" "$tmpl" >"$out.tmp"
  mv "$out.tmp" "$out"
}

# The node's kubeconfig: the stack's admin credentials, at the address pods and the node see.
write_node_kubeconfig() {
  sed "s#server: https://127.0.0.1:$API_PORT#server: https://$NODE_HOST_IP:$API_PORT#" \
    "$STATE/kube/kubeconfig" >"$DIR/kubeconfig.tmp"
  chmod 0600 "$DIR/kubeconfig.tmp"
  mv "$DIR/kubeconfig.tmp" "$DIR/kubeconfig"
}

prepare_state() {
  mkdir -p "$DIR"/{containerd,cni/net.d,cni/ipam,manifests,pod-logs,volume-plugins,kubelet,runc,shadow/sysctl,shadow/var-lib,shadow/var-log,kcm-volume-plugins}
  render containerd.toml "$DIR/containerd.toml"
  render kubelet.yaml "$DIR/kubelet.yaml"
  render kube-proxy.yaml "$DIR/kube-proxy.yaml"
  render cni.conflist "$DIR/cni/net.d/10-lifeboat.conflist"
  # No cluster DNS: pods resolve nothing (the kubelet needs the file).
  echo "options ndots:1" >"$DIR/resolv.conf"
  write_node_kubeconfig
}

# ---------------------------------------------------------------------------------------------
# Network: namespace, veth pair, route to the pods

sysctl_snapshot() {
  local k
  for k in "${WATCHED_SYSCTLS[@]}"; do
    [[ -r "/proc/sys/$k" ]] && printf '%s %s\n' "$k" "$(tr '\t' ' ' <"/proc/sys/$k")"
  done
  return 0
}

net_ready() {
  [[ -e "$NETNS_FILE" ]] && ip link show "$NODE_VETH_HOST" >/dev/null 2>&1 &&
    ip route show "$NODE_POD_CIDR" | grep "via $NODE_IP" >/dev/null &&
    [[ "$(in_netns cat /proc/sys/net/ipv4/ip_forward)" == 1 ]]
}

net_up() {
  net_ready && return 0
  [[ -e "$NETNS_FILE" ]] && { warn "network namespace $NODE_NETNS is half set up (an earlier run failed); recreating it"; net_down; }
  # What the host looks like before the node: host-check compares against it after `down`.
  [[ -s "$DIR/host-sysctl.before" ]] || sysctl_snapshot >"$DIR/host-sysctl.before"
  local clash
  clash="$(ip -o addr show to "$NODE_NET.0/24"; ip route show root "$NODE_NET.0/24"; ip route show root "$NODE_POD_CIDR")"
  [[ -z "$clash" ]] || die "the node network $NODE_NET.0/24 or the pod network $NODE_POD_CIDR is already in use on this host: $clash" \
    "another stack's node probably uses them: pick others, e.g. LIFEBOAT_NODE_NET=10.251.0 LIFEBOAT_POD_CIDR=10.245.0.0/24 $0 up"
  # `ip netns add` makes /run/netns a mount point the first time; remember whether we did, so
  # that `down` removes it again (and only then).
  if [[ ! -d /run/netns ]] && [[ ! -e "$DIR/made-run-netns" ]]; then touch "$DIR/made-run-netns"; fi
  log "creating network namespace $NODE_NETNS ($NODE_HOST_IP <-> $NODE_IP, pods $NODE_POD_CIDR)"
  ip netns add "$NODE_NETNS"
  ip link add "$NODE_VETH_HOST" type veth peer name "$NODE_VETH_NS" netns "$NODE_NETNS"
  ip addr add "$NODE_HOST_IP/24" dev "$NODE_VETH_HOST"
  ip link set "$NODE_VETH_HOST" up
  in_netns ip link set lo up
  in_netns ip addr add "$NODE_IP/24" dev "$NODE_VETH_NS"
  in_netns ip link set "$NODE_VETH_NS" up
  in_netns ip route add default via "$NODE_HOST_IP" dev "$NODE_VETH_NS"
  # Per network namespace: the host's own ip_forward is untouched.
  in_netns sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
  ip route add "$NODE_POD_CIDR" via "$NODE_IP" dev "$NODE_VETH_HOST"
}

net_down() {
  # Deleting the namespace deletes the veth pair, and with it the host's address and route.
  if [[ -e "$NETNS_FILE" ]]; then
    log "deleting network namespace $NODE_NETNS"
    ip netns delete "$NODE_NETNS" || warn "could not delete network namespace $NODE_NETNS"
  fi
  ip link show "$NODE_VETH_HOST" >/dev/null 2>&1 && ip link delete "$NODE_VETH_HOST"
  if [[ -e "$DIR/made-run-netns" ]]; then
    # Only when no other namespace lives there (another tool's, or another stack's).
    if [[ -d /run/netns && -z "$(ls -A /run/netns)" ]]; then
      umount /run/netns 2>/dev/null || true
      rmdir /run/netns 2>/dev/null || true
    fi
    [[ -d /run/netns ]] || rm -f "$DIR/made-run-netns"
  fi
  return 0
}

# ---------------------------------------------------------------------------------------------
# Forwarders: pods reach the host's loopback services at $NODE_HOST_IP. socat accepts only
# connections from the node network (pods are masqueraded to the node's address), so nothing
# that routes to this host from outside reaches loopback services through it.

fwd_ready() { (exec 3<>"/dev/tcp/$NODE_HOST_IP/$1") 2>/dev/null; }

forwarders_up() {
  local p
  for p in $FORWARD_PORTS; do
    reuse_or_clear "forward-$p" fwd_ready "$p" && continue
    START_MATCH="TCP-LISTEN:$p,bind=$NODE_HOST_IP" start_bg "forward-$p" "$LOG_DIR/forward-$p.log" \
      socat "TCP-LISTEN:$p,bind=$NODE_HOST_IP,reuseaddr,fork,range=$NODE_NET.0/24" "TCP:127.0.0.1:$p"
    wait_for "forward-$p" 20 "listening on $NODE_HOST_IP:$p" fwd_ready "$p"
  done
}

# ---------------------------------------------------------------------------------------------
# Control plane on the host

healthz() { curl -fsSk --max-time 5 "https://127.0.0.1:$1/healthz" | grep -qx ok; }

start_controller_manager() {
  reuse_or_clear kube-controller-manager healthz "$KCM_PORT" && return 0
  need_free_port "$KCM_PORT" "kube-controller-manager (health)" KUBE_CONTROLLER_MANAGER_PORT
  # The root CA goes into every namespace's kube-root-ca.crt, which pods' token volumes mount.
  start_bg kube-controller-manager "$LOG_DIR/kube-controller-manager.log" "$BIN/kube-controller-manager" \
    --kubeconfig "$STATE/kube/kubeconfig" --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
    --leader-elect=false --use-service-account-credentials=false \
    --service-account-private-key-file "$STATE/kube/pki/sa.key" --root-ca-file "$STATE/kube/pki/ca.crt" \
    --cluster-name lifeboat --flex-volume-plugin-dir "$DIR/kcm-volume-plugins" \
    --cert-dir "$DIR/kcm-certs"
  wait_for kube-controller-manager 60 "healthy" healthz "$KCM_PORT"
}

start_scheduler() {
  reuse_or_clear kube-scheduler healthz "$SCHEDULER_PORT" && return 0
  need_free_port "$SCHEDULER_PORT" "kube-scheduler (health)" KUBE_SCHEDULER_PORT
  start_bg kube-scheduler "$LOG_DIR/kube-scheduler.log" "$BIN/kube-scheduler" \
    --kubeconfig "$STATE/kube/kubeconfig" --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
    --leader-elect=false --cert-dir "$DIR/scheduler-certs"
  wait_for kube-scheduler 60 "healthy" healthz "$SCHEDULER_PORT"
}

# ---------------------------------------------------------------------------------------------
# The node: one holder process keeps a private mount namespace (in the node's network
# namespace) in which containerd, the kubelet and kube-proxy run. Its mounts (the shadowed
# sysctls, /var/lib, /var/log and /run hidden, the containers' root filesystems and network
# namespaces) exist only there and vanish with its last process.

# Runs as the holder, inside the new namespaces (node.sh _holder).
holder() {
  local k f
  for k in "${SHADOWED_SYSCTLS[@]}"; do
    f="$DIR/shadow/sysctl/${k//\//.}"
    cat "/proc/sys/$k" >"$f"
    mount --bind "$f" "/proc/sys/$k"
  done
  # Whatever still writes to the default places (a plugin, a library) writes into the state dir.
  mount --bind "$DIR/shadow/var-lib" /var/lib
  mount --bind "$DIR/shadow/var-log" /var/log
  # containerd 1.6 keeps its shims' sockets under /run/containerd.
  mount -t tmpfs -o mode=0755,size=64m lifeboat-node-run /run
  readlink /proc/self/ns/mnt >"$DIR/holder.mntns"
  exec -a "lifeboat-node-holder-$NODE_ID" sleep infinity
}

holder_ready() {
  is_running node-holder && [[ -s "$DIR/holder.mntns" ]] &&
    [[ "$(readlink "/proc/$(pid_of node-holder)/ns/mnt")" == "$(cat "$DIR/holder.mntns")" ]]
}

# in_node NAME MATCH LOG CMD... — start CMD in the holder's namespaces.
start_in_node() {
  local name="$1" match="$2"; shift 2
  START_MATCH="$match" start_bg "$name" "$LOG_DIR/$name.log" \
    nsenter --target "$(pid_of node-holder)" --mount --net -- "$@"
}

# has_image NAME — without -q, grep reads all of ctr's output: `grep -q` would exit at the first
# match, and ctr, still writing, would die of SIGPIPE and fail the pipeline (pipefail).
has_image() { ctr_node images ls -q | grep -xF "$1" >/dev/null; }

# import_image NAME ARCHIVE — the images the stack builds itself, named by --base-name + tag.
import_image() {
  has_image "$1" && return 0
  ctr_node images import --base-name "${1%:*}" "$2" >/dev/null ||
    die "could not import $2 into the node's containerd as $1" "check $LOG_DIR/containerd.log"
  has_image "$1" ||
    die "importing $2 into the node's containerd made no image $1" "check that ctr names OCI archives by --base-name and tag (containerd $(containerd --version | cut -d' ' -f3))"
}

containerd_ready() { [[ -S "$SOCK" ]] && ctr_node version >/dev/null 2>&1; }
kubelet_healthy() { in_netns curl -fsS --max-time 5 http://127.0.0.1:10248/healthz | grep -qx ok; }
proxy_healthy() { in_netns curl -fsS --max-time 5 http://127.0.0.1:10256/healthz >/dev/null; }

start_node() {
  if ! holder_ready; then
    # A new holder means a new mount namespace: what ran in the old one cannot be reused.
    stop_node_processes
    rm -f "$DIR/holder.mntns"
    START_MATCH="lifeboat-node-holder-$NODE_ID" start_bg node-holder "$LOG_DIR/node-holder.log" \
      nsenter --net="$NETNS_FILE" unshare --mount --propagation private bash "$HACK/node.sh" _holder
    wait_for node-holder 20 "holding the node's namespaces" holder_ready
  fi
  if ! reuse_or_clear containerd containerd_ready; then
    start_in_node containerd "$DIR/containerd.toml" containerd --config "$DIR/containerd.toml"
    wait_for containerd 30 "serving on $SOCK" containerd_ready
  fi
  import_image "$PAUSE_IMAGE" "$PAUSE_DIR/image.tar"
  import_image "$PROBE_IMAGE" "$PROBE_DIR/image.tar"
  if ! reuse_or_clear kubelet kubelet_healthy; then
    make_node_cgroups
    start_in_node kubelet "$DIR/kubelet.yaml" "$BIN/kubelet" --config "$DIR/kubelet.yaml" \
      --kubeconfig "$DIR/kubeconfig" --root-dir "$DIR/kubelet" --cert-dir "$DIR/kubelet/pki" \
      --node-ip "$NODE_IP" --hostname-override "$NODE_NAME" --v=1
    wait_for kubelet 60 "healthy" kubelet_healthy
  fi
  if ! reuse_or_clear kube-proxy proxy_healthy; then
    start_in_node kube-proxy "$DIR/kube-proxy.yaml" "$BIN/kube-proxy" --config "$DIR/kube-proxy.yaml" --v=1
    wait_for kube-proxy 60 "healthy" proxy_healthy
  fi
}

node_ready() {
  [[ "$(kubectl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

# Every process in the holder's mount namespace (containerd's shims among them), found by
# that namespace rather than by name.
pids_in_node_mntns() {
  [[ -s "$DIR/holder.mntns" ]] || return 0
  local want p
  want="$(cat "$DIR/holder.mntns")"
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$want" ]] && echo "${p#/proc/}"
  done
  return 0
}

# Every process in the node's pod cgroups (the containers).
pids_in_node_cgroups() {
  local d
  for d in /sys/fs/cgroup/*"$CGROUP_ROOT"; do
    [[ -d "$d" ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

stop_node_processes() {
  stop_proc kube-proxy 20
  stop_proc kubelet 30
  # The containers outlive the kubelet and containerd (their shims are daemons): end them
  # through containerd while it still runs.
  if containerd_ready; then
    local t
    for t in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $(ctr_node tasks ls -q 2>/dev/null); do ctr_node tasks delete -f "$t" >/dev/null 2>&1 || true; done
  fi
  stop_proc containerd 30
  local p pids
  pids="$( (pids_in_node_cgroups; pids_in_node_mntns) | sort -u)"
  for p in $pids; do
    [[ "$p" == "$(pid_of node-holder 2>/dev/null)" ]] && continue
    warn "ending leftover node process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80))"
    kill -KILL "$p" 2>/dev/null || true
  done
}

# The kubelet's cgroupRoot, in every v1 hierarchy it uses; cpuset needs its CPUs and memory
# nodes set before a child can be made in it.
make_node_cgroups() {
  local h d
  for h in /sys/fs/cgroup/*/; do
    [[ "$h" == */unified/ ]] && continue
    d="${h%/}$CGROUP_ROOT"
    mkdir -p "$d"
    if [[ -e "$d/cpuset.cpus" && -z "$(cat "$d/cpuset.cpus")" ]]; then
      cat "${h}cpuset.cpus" >"$d/cpuset.cpus"
      cat "${h}cpuset.mems" >"$d/cpuset.mems"
    fi
  done
}

remove_node_cgroups() {
  local d
  for d in /sys/fs/cgroup/*"$CGROUP_ROOT"; do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

# ---------------------------------------------------------------------------------------------

up() {
  ensure_dirs
  bash "$HACK/kube.sh" status >/dev/null || die "the kube-apiserver is not running" "run hack/kube.sh up first (npm run up does)"
  [[ $(id -u) -eq 0 ]] || die "the node needs root (network and mount namespaces, cgroups)" "run as root, or start the stack without it: hack/up.sh --no-node"
  build
  prepare_state
  net_up
  forwarders_up
  start_controller_manager
  start_scheduler
  start_node
  local deadline=$((SECONDS + 120))
  until node_ready; do
    ((SECONDS < deadline)) || { tail -n 20 "$LOG_DIR/kubelet.log" >&2; die "node $NODE_NAME did not become Ready within 120s" "read $LOG_DIR/kubelet.log and $LOG_DIR/containerd.log"; }
    sleep 1
  done
  log "ready: node $NODE_NAME ($NODE_IP, pods $NODE_POD_CIDR); host services at $NODE_HOST_IP:{${FORWARD_PORTS// /,}}"
}

down() {
  [[ -d "$DIR" ]] || return 0
  stop_node_processes
  stop_proc node-holder 10
  remove_node_cgroups
  stop_proc kube-scheduler 30
  stop_proc kube-controller-manager 30
  local pf
  for pf in "$RUN_DIR"/forward-*.pid; do [[ -e "$pf" ]] && stop_proc "$(basename "$pf" .pid)" 10; done
  net_down
  rm -f "$DIR/holder.mntns"
}

status() {
  local rc=0 c
  for c in kube-controller-manager kube-scheduler node-holder containerd kubelet kube-proxy; do
    if is_running "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: down"; rc=1; fi
  done
  if [[ $rc -eq 0 ]] && node_ready; then echo "node $NODE_NAME: Ready"; else echo "node $NODE_NAME: not ready"; rc=1; fi
  return $rc
}

# What of the node is still on the host; prints each leftover and fails if there is any.
host_check() {
  local left=() line k before now c pf
  while read -r line; do left+=("mount: $line"); done < <(grep -F -e "$(realpath -m "$STATE")" -e "$NETNS_FILE" /proc/self/mountinfo | cut -d' ' -f5)
  for c in /sys/fs/cgroup/*"$CGROUP_ROOT" /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/*/kubepods; do
    [[ -d "$c" ]] && left+=("cgroup: $c")
  done
  ip netns list 2>/dev/null | grep -w "$NODE_NETNS" >/dev/null && left+=("network namespace: $NODE_NETNS")
  # Another stack's node may still keep its namespace there; only an empty one is ours to remove.
  [[ -e "$DIR/made-run-netns" && -d /run/netns && -z "$(ls -A /run/netns)" ]] && left+=("directory: /run/netns (made by this stack's node)")
  ip link show "$NODE_VETH_HOST" >/dev/null 2>&1 && left+=("interface: $NODE_VETH_HOST")
  while read -r line; do [[ -n "$line" ]] && left+=("route: $line"); done < <(ip route show | grep -e "$NODE_POD_CIDR" -e "$NODE_NET\." || true)
  while read -r line; do [[ -n "$line" ]] && left+=("iptables: $line"); done < <(iptables-save 2>/dev/null | grep -E 'KUBE-|CNI-|lifeboat' || true)
  if [[ -s "$DIR/host-sysctl.before" ]]; then
    while read -r k before; do
      now="$(tr '\t' ' ' <"/proc/sys/$k" 2>/dev/null || echo absent)"
      [[ "$now" == "$before" ]] || left+=("sysctl: ${k//\//.} was $before at up, is $now")
    done <"$DIR/host-sysctl.before"
  fi
  for pf in "$RUN_DIR"/*.pid; do
    [[ -e "$pf" ]] || continue
    c="$(basename "$pf" .pid)"
    case "$c" in kube-controller-manager | kube-scheduler | node-holder | containerd | kubelet | kube-proxy | forward-*)
      is_running "$c" && left+=("process: $c (pid $(pid_of "$c"))") ;;
    esac
  done
  for c in $( (pids_in_node_cgroups; pids_in_node_mntns) | sort -u); do left+=("process: $c in the node's namespaces or cgroups"); done
  if [[ ${#left[@]} -eq 0 ]]; then
    log "host-check: nothing of the node is left on the host (mounts, cgroups, netns, veth, routes, iptables, sysctls, processes)"
    return 0
  fi
  printf '%s\n' "${left[@]}" >&2
  die "host-check: ${#left[@]} leftover(s) of the node on the host (listed above)" "run $0 down; if they stay, remove them by hand and report it"
}

# load ARCHIVE [NAME] — import an OCI archive (buildah/skopeo `oci-archive:`) into the node's
# containerd, where pods with imagePullPolicy Never or IfNotPresent find it; NAME (a full
# reference, e.g. localhost/lifeboat:dev) tags it as well.
load() {
  local archive="${1:-}" name="${2:-}" out img
  [[ -f "$archive" ]] || die "no image archive at '${archive}'" "usage: $0 load <oci-archive> [name]"
  containerd_ready || die "the node's containerd is not running" "run hack/node.sh up (npm run up does)"
  out="$(ctr_node images import --all-platforms "$archive" 2>&1)" ||
    { echo "$out" >&2; die "ctr could not import $archive" "check that it is an OCI or Docker archive (skopeo inspect oci-archive:$archive)"; }
  img="$(sed -n 's/^unpacking \(.*\) (sha256:.*/\1/p' <<<"$out" | head -n1)"
  if [[ -z "$img" ]]; then
    img="$(sed -n 's/^\(\S*\)\s.*/\1/p' <<<"$out" | head -n1)"
  fi
  if [[ -n "$name" && "$img" != "$name" ]]; then
    [[ -n "$img" ]] || { echo "$out" >&2; die "ctr imported $archive but named no image" "give the archive a name (skopeo copy ... oci-archive:FILE:NAME) or pass one"; }
    ctr_node images tag --force "$img" "$name" >/dev/null
    # The import-<date>:<tag> name ctr gives an archive that carries only a tag stays: removing
    # it makes containerd 1.6's CRI forget the image's ID, and pods of NAME fail to start.
    img="$name"
  fi
  log "loaded $img into the node's containerd"
  echo "$img"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  build) build; log "binaries in $BIN, images in $PAUSE_DIR and $PROBE_DIR" ;;
  probe-image) echo "$PROBE_IMAGE" ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR" ;;
  host-check) host_check ;;
  load) shift; load "$@" ;;
  exec) shift; in_netns "$@" ;;
  _holder) holder ;;
  *) echo "usage: $0 up|down|status|build|clean|host-check|load <oci-archive> [name]|exec CMD..." >&2; exit 2 ;;
esac
