#!/usr/bin/env bash
# MinIO (S3) on 127.0.0.1, built from its Go module, with the bucket `lifeboat` created by mc.
# Root credentials are generated once into $STATE/secrets/minio-{access,secret}-key.
# Clients must use path-style addressing (http://127.0.0.1:PORT/BUCKET/KEY).
#
#   hack/minio.sh up | down | status | build | clean
#
# Ports: MINIO_PORT=19000 (S3 API), MINIO_CONSOLE_PORT=19001.
set -euo pipefail
LIFEBOAT_COMPONENT=minio
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

PORT="${MINIO_PORT:-19000}"
CONSOLE_PORT="${MINIO_CONSOLE_PORT:-19001}"
BUCKET="${S3_BUCKET:-lifeboat}"
DIR="$STATE/minio"
MINIO_BIN="$CACHE/minio-$MINIO_VERSION"
MC_BIN="$CACHE/mc-$MC_VERSION"
ENDPOINT="http://127.0.0.1:$PORT"
# mc keeps its aliases in a config dir; ours lives in the state dir, not in ~/.mc.
export MC_CONFIG_DIR="$DIR/mc"

build_minio() { go_install "$1" "github.com/minio/minio@$MINIO_VERSION" && "$1/minio" --version; }
build_mc() { go_install "$1" "github.com/minio/mc@$MC_VERSION" && "$1/mc" --version; }

build() {
  ensure_dirs
  go_cached_build minio "$MINIO_VERSION" "$MINIO_BIN" build_minio
  go_cached_build mc "$MC_VERSION" "$MC_BIN" build_mc
}

ready() { curl -fsS --max-time 5 "$ENDPOINT/minio/health/ready" -o /dev/null; }

mc() { "$MC_BIN/mc" --quiet --no-color "$@"; }

up() {
  ensure_dirs
  need_apt curl
  build
  local access secret_key
  access="$(secret minio-access-key)"
  secret_key="$(secret minio-secret-key)"
  if ! reuse_or_clear minio ready; then
    need_free_port "$PORT" "MinIO S3 API" MINIO_PORT
    need_free_port "$CONSOLE_PORT" "MinIO console" MINIO_CONSOLE_PORT
    mkdir -p "$DIR/data"
    # No update checks or telemetry: there is no Internet here, and tests must not wait on it.
    MINIO_ROOT_USER="$access" MINIO_ROOT_PASSWORD="$secret_key" MINIO_UPDATE=off \
      MINIO_BROWSER=off MINIO_CALLHOME_ENABLE=off \
      start_bg minio "$LOG_DIR/minio.log" "$MINIO_BIN/minio" server "$DIR/data" \
      --address "127.0.0.1:$PORT" --console-address "127.0.0.1:$CONSOLE_PORT"
    wait_for minio 60 "ready ($ENDPOINT/minio/health/ready)" ready
  fi
  # The keys on stdin, where mc prompts for them: arguments are visible to every user (ps).
  printf '%s\n%s\n' "$access" "$secret_key" | mc alias set lifeboat "$ENDPOINT" --api S3v4 --path on >/dev/null ||
    die "mc could not log in to MinIO at $ENDPOINT" "check $LOG_DIR/minio.log; if the credentials changed, run: $0 clean && $0 up"
  mc mb --ignore-existing "lifeboat/$BUCKET" >/dev/null ||
    die "mc could not create bucket $BUCKET at $ENDPOINT" "check $LOG_DIR/minio.log"
  log "ready: $ENDPOINT bucket $BUCKET (mc alias 'lifeboat', MC_CONFIG_DIR=$MC_CONFIG_DIR)"
}

down() { stop_proc minio 30; }

status() {
  if is_running minio && ready; then echo "minio: running (pid $(pid_of minio)), $ENDPOINT"; else echo "minio: down"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  build) build ;;
  clean) down; rm -rf "$DIR"; log "removed $DIR" ;;
  bin-dirs) echo "$MINIO_BIN $MC_BIN" ;;
  *) echo "usage: $0 up|down|status|build|clean" >&2; exit 2 ;;
esac
