#!/usr/bin/env bash
# promtool, to check and unit-test deploy/monitoring/prometheus-rule.yaml, taken from Debian 12's
# `prometheus` package without installing it: installing the package would start a Prometheus
# server. `apt-get download` fetches the .deb, `dpkg-deb -x` unpacks it, and only promtool (with
# its copyright file) is kept in $CACHE/prometheus-<Debian version>/.
#
#   hack/promtool.sh install   # fetch it unless cached; print the path of promtool
#   hack/promtool.sh path      # print the path of promtool; fail (saying how to get it) when absent
#   hack/promtool.sh bin-dir   # print the directory promtool is (or would be) in
#
# PROMETHEUS_DEB_VERSION pins the package version; by default it is apt's candidate version.
set -euo pipefail
LIFEBOAT_COMPONENT=promtool
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

deb_version() {
  if [[ -n "${PROMETHEUS_DEB_VERSION:-}" ]]; then
    echo "$PROMETHEUS_DEB_VERSION"
    return
  fi
  local v
  v="$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
  [[ -n "$v" && "$v" != "(none)" ]] ||
    die "apt knows no candidate version of the Debian package prometheus" \
      "run: apt-get update (Debian 12 carries prometheus 2.42), or set PROMETHEUS_DEB_VERSION"
  echo "$v"
}

VERSION="$(deb_version)"
OUT="$CACHE/prometheus-$VERSION"

install_promtool() {
  [[ -x "$OUT/promtool" && -f "$OUT/.complete" ]] && return 0
  need_cmd apt-get "this script needs Debian's apt-get"
  need_cmd dpkg-deb "this script needs Debian's dpkg-deb"
  mkdir -p "$CACHE"
  local tmp start=$SECONDS
  tmp="$(mktemp -d "$OUT.tmp.XXXXXX")"
  # apt drops to the _apt user to download; let it write into the temporary directory.
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
  log "downloading Debian's prometheus $VERSION for its promtool (not installing it)"
  if ! (cd "$tmp" && apt-get download -q "prometheus=$VERSION" >"$tmp/apt.log" 2>&1); then
    cat "$tmp/apt.log" >&2
    rm -rf "$tmp"
    die "apt-get download prometheus=$VERSION failed" \
      "check that Debian's package mirror is reachable and run: apt-get update (or set PROMETHEUS_DEB_VERSION to a version apt-cache policy prometheus lists)"
  fi
  dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root" ||
    { rm -rf "$tmp"; die "dpkg-deb could not unpack the prometheus package" "remove $CACHE/prometheus-*.tmp.* and retry"; }
  [[ -x "$tmp/root/usr/bin/promtool" ]] ||
    { rm -rf "$tmp"; die "the prometheus $VERSION package has no usr/bin/promtool" "pin another version with PROMETHEUS_DEB_VERSION"; }
  mv "$tmp/root/usr/bin/promtool" "$tmp/promtool"
  cp "$tmp/root/usr/share/doc/prometheus/copyright" "$tmp/copyright" 2>/dev/null || true
  rm -rf "$tmp/root" "$tmp"/*.deb "$tmp/apt.log"
  "$tmp/promtool" --version >"$tmp/.complete" 2>&1 ||
    { rm -rf "$tmp"; die "the unpacked promtool does not run" "remove $tmp and retry; check the architecture ($(dpkg --print-architecture))"; }
  chown -R "$(id -u):$(id -g)" "$tmp"
  chmod 0755 "$tmp"
  rm -rf "$OUT"
  mv "$tmp" "$OUT"
  log "promtool of prometheus $VERSION in $OUT ($((SECONDS - start))s)"
}

case "${1:-}" in
  install) install_promtool; echo "$OUT/promtool" ;;
  path)
    [[ -x "$OUT/promtool" && -f "$OUT/.complete" ]] ||
      die "promtool (Debian prometheus $VERSION) is not in $OUT" "run: hack/promtool.sh install"
    echo "$OUT/promtool"
    ;;
  bin-dir) echo "$OUT" ;;
  *) echo "usage: $0 install|path|bin-dir" >&2; exit 2 ;;
esac
