# shellcheck shell=bash
# Shared helpers for the hack/ scripts. Source it; do not run it.
#
# Conventions every script follows:
#   - state (data dirs, logs, pidfiles, secrets) lives under $STATE, default $REPO/.lifeboat
#   - build outputs live under $CACHE, keyed by pinned version, and survive `down`
#   - every process we start is recorded in $STATE/run/<name>.pid and stopped by that PID only
#   - a failed `up` stops whatever it started in that run before exiting

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${LIFEBOAT_STATE:-$REPO/.lifeboat}"
CACHE="${LIFEBOAT_CACHE:-$HOME/.cache/lifeboat}"
RUN_DIR="$STATE/run"
LOG_DIR="$STATE/log"
SECRETS_DIR="$STATE/secrets"

# Go builds share the user's module cache (downloads are reused across versions) but never
# switch toolchains behind our back: what is on PATH is what we pinned against.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

_ts() { date +%H:%M:%S; }
log() { printf '%s [%s] %s\n' "$(_ts)" "${LIFEBOAT_COMPONENT:-hack}" "$*" >&2; }
warn() { printf '%s [%s] warning: %s\n' "$(_ts)" "${LIFEBOAT_COMPONENT:-hack}" "$*" >&2; }

# die WHAT [FIX] — every failure says what broke and what the user can do about it.
die() {
  printf '%s [%s] error: %s\n' "$(_ts)" "${LIFEBOAT_COMPONENT:-hack}" "$1" >&2
  if [[ $# -gt 1 ]]; then
    printf '%s [%s]   fix: %s\n' "$(_ts)" "${LIFEBOAT_COMPONENT:-hack}" "$2" >&2
  fi
  exit 1
}

ensure_dirs() {
  mkdir -p "$STATE" "$RUN_DIR" "$LOG_DIR" "$CACHE"
  install -d -m 0700 "$SECRETS_DIR"
  take_lock
  # ss names the process holding a port; the SST scripts use it too.
  command -v ss >/dev/null 2>&1 || need_apt iproute2
}

# One hack/ invocation at a time per state dir: two concurrent `up`s would race for the same
# ports and datadirs. Nested calls (up.sh -> mariadb.sh) inherit the lock.
take_lock() {
  [[ -n "${LIFEBOAT_LOCKED:-}" ]] && return 0
  exec 9>"$STATE/.lock"
  if ! flock -n 9; then
    log "another hack/ script is using $STATE; waiting for it (up to 15 min)"
    flock -w 900 9 || die "timed out waiting for the lock on $STATE/.lock" \
      "check for another running hack/ script (ps -ef | grep hack/); it holds $STATE/.lock"
  fi
  export LIFEBOAT_LOCKED=1
}

# secret NAME — a random hex secret generated once and kept (mode 0600) so restarts reuse it.
# Hex keeps it safe inside config files, URLs and shell variables without quoting.
secret() {
  local file="$SECRETS_DIR/$1"
  if [[ ! -s "$file" ]]; then
    (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
  fi
  cat "$file"
}

# ---------------------------------------------------------------------------------------------
# Packages

# need_apt PKG... — install the Debian packages that are missing, in one apt transaction.
need_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]}" \
    "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  log "installing Debian packages: ${missing[*]}"
  local aptlog="$LOG_DIR/apt-install.log"
  # The lists may be absent on a fresh machine; refresh them once if the first try fails.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$aptlog" 2>&1; then
    log "apt-get install failed; refreshing package lists and retrying"
    apt-get update >>"$aptlog" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1 ||
      { tail -n 15 "$aptlog" >&2; die "apt-get install ${missing[*]} failed (full log: $aptlog)" \
        "check that Debian's package mirror is reachable, then run: apt-get update && apt-get install -y ${missing[*]}"; }
  fi
}

need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not on PATH" "${2:-install it and retry}"
}

# ---------------------------------------------------------------------------------------------
# Processes: one pidfile per process, stopped only by the PID recorded in it.

pidfile() { echo "$RUN_DIR/$1.pid"; }

# is_running NAME — true when the pidfile names a live process that is still the one we
# started (the command line must contain the binary we recorded, to survive PID reuse).
is_running() {
  local pf pid exe
  pf="$(pidfile "$1")"
  [[ -s "$pf" ]] || return 1
  read -r pid exe <"$pf" || true
  [[ -n "${pid:-}" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ -z "${exe:-}" ]] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$exe"
}

pid_of() { local pid _; read -r pid _ <"$(pidfile "$1")"; echo "$pid"; }

# clear_stale NAME — a pidfile whose process is gone is a leftover of a crashed or
# half-started run; remove it so the port check and the start below tell the truth.
clear_stale() {
  local pf; pf="$(pidfile "$1")"
  if [[ -e "$pf" ]] && ! is_running "$1"; then
    warn "removing stale pidfile for $1 (process $(cut -d' ' -f1 "$pf") is gone or is now another program; left by an earlier run)"
    rm -f "$pf"
  fi
}

# reuse_or_clear NAME HEALTH_CMD... — true when our recorded process is up and healthy (reuse
# it). A live but unhealthy one (hung, or left half-started) is stopped by its PID so the
# caller starts it afresh; a dead one just loses its stale pidfile.
reuse_or_clear() {
  local name="$1"; shift
  if is_running "$name"; then
    if "$@" >/dev/null 2>&1; then log "$name already running and healthy (pid $(pid_of "$name")); reusing it"; return 0; fi
    sleep 3
    if "$@" >/dev/null 2>&1; then log "$name already running and healthy (pid $(pid_of "$name")); reusing it"; return 0; fi
    warn "$name (pid $(pid_of "$name")) is running but not healthy (half-started or hung); restarting it"
    stop_proc "$name" 30
  fi
  clear_stale "$name"
  return 1
}

# Processes started by this invocation; stopped again if the invocation fails.
STARTED_HERE=()

# start_bg NAME LOGFILE CMD... — start CMD detached in its own session, record its PID.
# START_MATCH=STRING start_bg … records STRING instead of CMD's first word as what the process's
# command line must contain: for a wrapper (nsenter) that execs the real binary.
start_bg() {
  local name="$1" logfile="$2"; shift 2
  log "starting $name (log: $logfile)"
  # setsid: Ctrl-C in the caller's terminal must not kill the stack; exec keeps the PID ours.
  # 3>&- … 9>&-: the daemon must not inherit (and so hold forever) the state-dir lock, or a lock
  # its caller holds (`flock FILE hack/runner.sh up` locks on fd 3).
  setsid bash -c 'exec "$@"' _ "$@" >>"$logfile" 2>&1 </dev/null 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &
  local pid=$!
  echo "$pid ${START_MATCH:-$1}" >"$(pidfile "$name")"
  STARTED_HERE+=("$name")
}

# alive PID — the process exists and has not exited: a daemon's parent is init, which may take
# a while to reap it, and kill -0 succeeds on a zombie.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(sed -n 's/^State:\s*\(\S\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]]
}

# stop_proc NAME [TIMEOUT] — SIGTERM the recorded PID, wait, then SIGKILL; remove the pidfile.
stop_proc() {
  local name="$1" timeout="${2:-30}" pf pid i
  pf="$(pidfile "$name")"
  [[ -e "$pf" ]] || return 0
  take_lock
  if ! is_running "$name"; then rm -f "$pf"; return 0; fi
  pid="$(pid_of "$name")"
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    warn "$name (pid $pid) did not exit within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$pf"
}

# On failure, undo this invocation's starts (newest first) so nothing is left half-up.
_cleanup_on_failure() {
  local rc=$? i
  if [[ $rc -ne 0 && ${#STARTED_HERE[@]} -gt 0 ]]; then
    warn "startup failed; stopping what this run started: ${STARTED_HERE[*]}"
    for ((i = ${#STARTED_HERE[@]} - 1; i >= 0; i--)); do
      stop_proc "${STARTED_HERE[$i]}" 20 || true
    done
  fi
  return $rc
}
trap _cleanup_on_failure EXIT

# ---------------------------------------------------------------------------------------------
# Ports

# port_owner PORT — "name (pid N)" of the listener on 127.0.0.1/any, or empty.
port_owner() {
  local line
  line="$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n1)" || true
  [[ -n "$line" ]] || return 0
  if [[ "$line" =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
    echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
  else
    echo "a process this user cannot see"
  fi
}

# need_free_port PORT WHAT ENVVAR — fail early, naming the holder, instead of letting the
# component die later with a bind error buried in its log.
need_free_port() {
  local port="$1" what="$2" var="$3" owner
  owner="$(port_owner "$port")"
  [[ -z "$owner" ]] && return 0
  die "port $port (for $what) is already in use by $owner" \
    "stop that process, or pick another port: $var=<port> $0 up (if it is an earlier Lifeboat stack, run hack/down.sh)"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME TIMEOUT DESCRIPTION CMD... — poll CMD until it succeeds; fail fast (with the
# log tail) if the process NAME has died, rather than waiting out the timeout.
wait_for() {
  local name="$1" timeout="$2" what="$3"; shift 3
  local deadline=$((SECONDS + timeout)) logfile="$LOG_DIR/$name.log"
  until "$@" >/dev/null 2>&1; do
    # Checked twice: while the process execs (setsid, bash, the daemon) its /proc entry can
    # briefly fail the check, and a daemon just started must not be reported as gone.
    if ! is_running "$name" && ! { sleep 1 && is_running "$name"; }; then
      [[ -f "$logfile" ]] && tail -n 25 "$logfile" >&2
      die "$name exited before it was $what (log: $logfile)" "read the log above; fix the cause and run the script again"
    fi
    if ((SECONDS >= deadline)); then
      [[ -f "$logfile" ]] && tail -n 25 "$logfile" >&2
      die "$name was not $what within ${timeout}s (log: $logfile)" "read the log above; the machine may be overloaded, retry, or run '$0 down' and then '$0 up'"
    fi
    sleep 0.5
  done
}

wait_for_port() { wait_for "$1" "$3" "listening on port $2" port_open "$2"; }

# ---------------------------------------------------------------------------------------------
# Go builds, cached by pinned version

# go_install OUT MODULE@VERSION — `go install` into OUT, for modules without replace directives
# (MinIO, mc, kubeconform, helm). nice: these builds share the machine with tests and other builds.
go_install() {
  local out="$1" module="$2"
  GOBIN="$out" GOFLAGS="-buildvcs=false" nice -n 10 go install -p "${LIFEBOAT_GO_PARALLEL:-2}" \
    -trimpath -ldflags "-s -w" "$module"
}

# go_cached_build NAME VERSION OUTDIR BUILD_FN — run BUILD_FN (which writes binaries into the
# directory given as its first argument) only when OUTDIR/.complete is absent. Builds go to a
# temporary directory first, so an interrupted build never looks finished.
go_cached_build() {
  local name="$1" version="$2" out="$3" fn="$4" tmp buildlog start
  [[ -f "$out/.complete" ]] && return 0
  need_cmd go "install Go (https://go.dev/dl/) or: apt-get install golang"
  buildlog="$CACHE/logs/$name-$version.log"
  mkdir -p "$CACHE/logs" "$(dirname "$out")"
  tmp="$(mktemp -d "$out.tmp.XXXXXX")"
  log "building $name $version (cold build; log: $buildlog)"
  start=$SECONDS
  # Run in a background subshell and wait: inside `if !` bash would ignore errexit in $fn.
  ( "$fn" "$tmp" ) >"$buildlog" 2>&1 &
  if ! wait $!; then
    rm -rf "$tmp"
    tail -n 25 "$buildlog" >&2
    die "building $name $version failed (log: $buildlog)" \
      "read the log above: 'not available' (403/404) means the pinned version is not on the Go module proxy (fix the pin in hack/versions.sh); another network error means the Go module proxy was unreachable (check GOPROXY, retry); a compile error means this Go ($(go env GOVERSION)) cannot build the pinned version (pin another one in hack/versions.sh)"
  fi
  echo "built in $((SECONDS - start))s with $(go env GOVERSION) on $(date -u +%FT%TZ)" >"$tmp/.complete"
  rm -rf "$out"
  chmod 0755 "$tmp"
  mv "$tmp" "$out"
  log "built $name $version in $((SECONDS - start))s -> $out"
}

# ---------------------------------------------------------------------------------------------
# Kubernetes from its Go module (kube.sh: API server and kubectl; node.sh: the node's binaries)

# kube_wrapper_module DIR — write DIR/go.mod: `go install k8s.io/kubernetes/cmd/...@v` is refused
# because k8s.io/kubernetes's go.mod replaces its staging modules with ./staging paths, so a
# wrapper module requires k8s.io/kubernetes and replaces each staging module with its published
# v0.Y.Z (or the pin in KUBE_STAGING_PINS, for one the module proxy refuses).
kube_wrapper_module() {
  local src="$1" gomod m pin staging_version="v0.${KUBE_VERSION#v1.}"
  gomod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$gomod" ]] || { echo "cannot download k8s.io/kubernetes@$KUBE_VERSION's go.mod" >&2; return 1; }
  mkdir -p "$src"
  {
    echo "// generated by hack/lib.sh: builds Kubernetes $KUBE_VERSION commands from the Go module"
    echo "module lifeboat.local/kubernetes-build"
    echo
    echo "go 1.23"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    for m in $(sed -n 's#^\s*\(k8s.io/[^ ]*\) => \./staging/.*#\1#p' "$gomod"); do
      pin="$(tr ' ' '\n' <<<"${KUBE_STAGING_PINS:-}" | sed -n "s#^$m=##p")"
      echo "replace $m => $m ${pin:-$staging_version}"
    done
  } >"$src/go.mod"
}

# kube_go_build OUTDIR PACKAGE... — build k8s.io/kubernetes commands in the wrapper module.
kube_go_build() {
  local out="$1" src="$CACHE/src/kubernetes-wrapper-$KUBE_VERSION" minor m ld="-s -w"
  shift
  minor="$(cut -d. -f2 <<<"${KUBE_VERSION#v}")"
  kube_wrapper_module "$src"
  # Without these ldflags the binaries report v0.0.0, and kubectl warns about version skew.
  for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $m.gitVersion=$KUBE_VERSION -X $m.gitMajor=1 -X $m.gitMinor=$minor"
    ld+=" -X $m.gitTreeState=clean -X $m.buildDate=$(date -u +%FT%TZ)"
  done
  # -mod=mod lets go resolve and record the wrapper's full requirement graph on first build;
  # -p 2 matches the 2-core machines (more parallel compiles only add memory pressure).
  (cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" nice -n 10 go build -p "${LIFEBOAT_GO_PARALLEL:-2}" -trimpath \
    -ldflags "$ld" -o "$out/" "$@")
}

# ---------------------------------------------------------------------------------------------
# The node's network (node.sh makes it, kube.sh advertises the API server on it)

# node_enabled — the node runs unless LIFEBOAT_NODE=0 (up.sh --no-node sets it).
node_enabled() { [[ "${LIFEBOAT_NODE:-1}" != 0 ]]; }

# One network namespace per state dir, named after a hash of its path, so two stacks on one
# host (different LIFEBOAT_STATE, shifted ports) never share one. Two stacks with a node also
# need different LIFEBOAT_NODE_NET and LIFEBOAT_POD_CIDR: the host routes both.
node_net_vars() {
  local id
  id="$(realpath -m "$STATE" | sha256sum | cut -c1-6)"
  NODE_ID="$id"
  NODE_NETNS="lifeboat-node-$id"
  NODE_VETH_HOST="lbn$id-h"
  NODE_VETH_NS="lbn$id-n"
  NODE_NET="${LIFEBOAT_NODE_NET:-10.250.0}"
  NODE_HOST_IP="$NODE_NET.254"
  NODE_IP="$NODE_NET.1"
  NODE_POD_CIDR="${LIFEBOAT_POD_CIDR:-10.244.0.0/24}"
  NODE_NAME="${LIFEBOAT_NODE_NAME:-lifeboat-node}"
  # The API server's --service-cluster-ip-range; its first address is the `kubernetes` Service.
  SERVICE_CIDR="10.0.0.0/24"
  SERVICE_API_IP="10.0.0.1"
}
