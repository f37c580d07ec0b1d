#!/usr/bin/env bash
# Writes $STATE/samples/: the manifests of crds/samples pointed at the local stack (the standalone
# server, the Galera nodes, MinIO) and carrying its generated passwords and keys, so that
# `kubectl apply -f .lifeboat/samples/` ends in Backups that run. The Restore sample is left out:
# applied as is, it would overwrite the Galera cluster's data.
#
#   hack/samples.sh        (npm run up runs it)
set -euo pipefail
LIFEBOAT_COMPONENT=samples
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$REPO/crds/samples"
OUT="$STATE/samples"
read -r -a galera_ports <<<"$(bash "$REPO/hack/galera.sh" ports)"
[[ ${#galera_ports[@]} -eq 3 ]] || die "hack/galera.sh ports gave '${galera_ports[*]}', not three ports" "check hack/galera.sh"

# Each pair: what the sample says, what the local stack has. Every one must be found, so a sample
# edited out of step with this script fails here rather than pointing at nothing.
replacements=(
  "port: 3306" "port: ${MARIADB_PORT:-13306}"
  "port: 3311" "port: ${galera_ports[0]}"
  "port: 3312" "port: ${galera_ports[1]}"
  "port: 3313" "port: ${galera_ports[2]}"
  "http://127.0.0.1:9000" "http://127.0.0.1:${MINIO_PORT:-19000}"
  "password: change-me" "password: $(secret mariadb-password)"
  "ACCESS_KEY_ID: lifeboat" "ACCESS_KEY_ID: $(cat "$SECRETS_DIR/minio-access-key")"
  "SECRET_ACCESS_KEY: change-me-too" "SECRET_ACCESS_KEY: $(cat "$SECRETS_DIR/minio-secret-key")"
)

ensure_dirs
tmp="$(mktemp -d "$STATE/samples.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
for f in "$SRC"/[123]-*.yaml; do cp "$f" "$tmp/"; done
for ((i = 0; i < ${#replacements[@]}; i += 2)); do
  from="${replacements[i]}" to="${replacements[i + 1]}"
  grep -rlF -- "$from" "$tmp" >/dev/null || die "no sample in $SRC says '$from'" "update hack/samples.sh to match crds/samples"
  for f in "$tmp"/*.yaml; do
    # Literal replacement: the generated secrets are alphanumeric, the patterns plain text.
    FROM="$from" TO="$to" perl -0pi -e 's/\Q$ENV{FROM}\E(?![0-9A-Za-z-])/$ENV{TO}/g' "$f"
  done
done
rm -rf "$OUT"
mv "$tmp" "$OUT"
trap - EXIT
log "wrote $OUT (mode 0700: it holds the stack's passwords); kubectl apply -f $OUT/"
