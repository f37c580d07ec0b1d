#!/usr/bin/env bash
# The programs the unit tests run for real, installed when missing: from Debian, Lua 5.4 (the Argo
# CD health checks in deploy/argocd/), the mariadb client (what a logical restore sends its
# password to) and mbstream (restore-datadir's extraction); and promtool (the alert rules in
# deploy/monitoring/), unpacked from Debian's prometheus package into the build cache. `npm test`
# runs this first: on a fresh machine the e2e suite's stack, which installs the servers, has not
# started yet.
#
#   hack/test-tools.sh           install what is missing, print where promtool is
set -euo pipefail
LIFEBOAT_COMPONENT=test-tools
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$LOG_DIR" "$CACHE"
need_apt lua5.4 mariadb-client mariadb-backup
bash "$REPO/hack/promtool.sh" install >/dev/null
