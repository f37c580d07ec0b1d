# shellcheck shell=bash
# shellcheck disable=SC2034  # sourced: the other scripts use these
# Pinned versions of everything hack/ builds. The cache key is the version: change a pin
# here and the next `up` builds the new one next to the old (remove old ones by hand).

# Kubernetes: 1.32 is the newest minor that accepts Debian 12's etcd 3.4.
KUBE_VERSION="${KUBE_VERSION:-v1.32.13}"
# Staging modules the Go module proxy refuses at the release's own v0.Y.Z (module=version, space
# separated): it answers 403 for k8s.io/endpointslice v0.32.13 (whose .info and .mod it serves),
# which kube-controller-manager and kube-proxy need; the previous patch release is identical.
KUBE_STAGING_PINS="${KUBE_STAGING_PINS:-k8s.io/endpointslice=v0.32.12}"

# MinIO and mc publish no semver tags (their RELEASE.* tags are not Go versions), so they are
# pinned by pseudo-version. The Go module proxy reachable here does not resolve RELEASE.* tag
# queries, so these are the newest commits it serves: the server's last commit (after
# RELEASE.2025-10-15T17-29-55Z, when the repository became source-only and unmaintained)
# and the mc commit of 2025-11-06. Both build with Go 1.26.
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
MC_VERSION="${MC_VERSION:-v0.0.0-20251106162529-77f82e18b540}"

# Debian 12 packages (their versions are Debian's; listed here so all inputs are in one place).
MARIADB_APT_PACKAGES=(mariadb-server mariadb-backup mariadb-client galera-4 galera-arbitrator-4 socat)
KUBE_APT_PACKAGES=(etcd-server openssl curl)
# The node: containerd 1.6 and runc 1.1 run the pods, the CNI plugins (bridge, host-local) wire
# them, socat forwards the host's loopback services to them, gcc and umoci build the pause image.
NODE_APT_PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 socat gcc libc6-dev umoci)

# Install-manifest checks (hack/tools.sh): kubeconform's newest tag on the Go module proxy, and
# Helm 4 (v4.3.2 builds with the Go here; Helm 3 would pin its own k8s.io modules the same way).
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
