#!/usr/bin/env bash
# Tools that check the install manifests (deploy/): kubeconform and helm, built from their Go
# modules and cached by pinned version (hack/versions.sh) like the stack's own binaries.
#
#   hack/tools.sh build      build what is missing (a cold build takes minutes; warm is instant)
#   hack/tools.sh bin-dir    print one directory per tool, colon-separated (for PATH), after build
#   hack/tools.sh status     say which tools are built
set -euo pipefail
LIFEBOAT_COMPONENT=tools
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=hack/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

KUBECONFORM_DIR="$CACHE/kubeconform-$KUBECONFORM_VERSION"
HELM_DIR="$CACHE/helm-$HELM_VERSION"

build_kubeconform() {
  go_install "$1" "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" && "$1/kubeconform" -v
}
build_helm() { go_install "$1" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" && "$1/helm" version --short; }

build() {
  mkdir -p "$CACHE"
  go_cached_build kubeconform "$KUBECONFORM_VERSION" "$KUBECONFORM_DIR" build_kubeconform
  go_cached_build helm "$HELM_VERSION" "$HELM_DIR" build_helm
}

bin_dir() {
  local d
  for d in "$KUBECONFORM_DIR" "$HELM_DIR"; do
    [[ -f "$d/.complete" ]] || die "$(basename "$d") is not built" "run: hack/tools.sh build"
  done
  echo "$KUBECONFORM_DIR:$HELM_DIR"
}

status() {
  local d
  for d in "$KUBECONFORM_DIR" "$HELM_DIR"; do
    if [[ -f "$d/.complete" ]]; then echo "$(basename "$d"): $(cat "$d/.complete")"; else echo "$(basename "$d"): not built"; fi
  done
}

case "${1:-}" in
  build) build ;;
  bin-dir) bin_dir ;;
  status) status ;;
  *) die "usage: $0 build|bin-dir|status" "pass one of: build, bin-dir, status" ;;
esac
