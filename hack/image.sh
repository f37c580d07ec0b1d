#!/usr/bin/env bash
# hack/image.sh — build Lifeboat's images without Docker, as OCI archives (see docs/image.md).
#
#   hack/image.sh build [lifeboat|mariadb]    build (or reuse) the image; prints the archive path
#   hack/image.sh path [lifeboat|mariadb]     the archive path (fails when it is not built)
#   hack/image.sh context [lifeboat|mariadb]  prepare the build context only; prints its folder
#                                             (for docker/podman build, see docs/image.md)
#   hack/image.sh verify [lifeboat|mariadb]   run the built image with runc and check it
#
# The image defaults to lifeboat. How it is built here:
#   1. debootstrap --variant=minbase bookworm with the image's package list (image/NAME/packages)
#      → umoci → skopeo: an OCI archive of a Debian 12 base, cached by the list.
#   2. The build context: the Containerfile's folder, the Node 24 binary (hack/nodejs.sh), and
#      for lifeboat the built package (dist/ without tests, production node_modules).
#   3. buildah bud --isolation oci --network none FROM that base, then pushed to an OCI archive
#      in $CACHE/images/, reused while the hash of all its inputs is unchanged.
# buildah, skopeo and runc keep all their state under $CACHE/images/work: nothing is written to
# /var/lib/containers, /run/containers or /etc.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LIFEBOAT_COMPONENT=image

IMAGES="$CACHE/images"
BUILD_TMP=""
WORK="$IMAGES/work"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# Bump when the way a base is made changes, so cached bases made the old way are not reused.
BASE_RECIPE=2

image_names() { echo "lifeboat mariadb"; }

check_name() {
  [[ " $(image_names) " == *" $1 "* ]] || die "unknown image '$1'" "use one of: $(image_names)"
}

version() {
  sed -n 's/^  "version": "\(.*\)",$/\1/p' "$REPO/package.json" | head -n1
}

# Image references. Kubernetes normalises `lifeboat:0.1.0` to docker.io/library/lifeboat:0.1.0,
# so the archive names the image that way and `ctr images import` registers the name pods use.
image_tag() {
  case "$1" in
    lifeboat) echo "$(version)" ;;
    mariadb) echo "10.11" ;;
  esac
}
image_repo() {
  case "$1" in
    lifeboat) echo lifeboat ;;
    mariadb) echo lifeboat-mariadb ;;
  esac
}
image_ref() { echo "docker.io/library/$(image_repo "$1"):$(image_tag "$1")"; }
archive_path() { echo "$IMAGES/$(image_repo "$1")-$(image_tag "$1").oci.tar"; }

# The packages of an image, one per line, comments dropped.
packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$REPO/image/$1/packages" | tr -d ' \t'; }

sha() { sha256sum | cut -c1-64; }

# hash_files FILE... — one hash over the names and contents of the files, in the given order.
hash_files() {
  sha256sum -- "$@" | sed "s#  $REPO/#  #" | sha
}

# Tools: installed from Debian when missing (as root), named with the apt line otherwise.
need_tools() {
  need_apt debootstrap umoci skopeo buildah runc
  need_cmd npm "install Node.js 20 or newer with npm"
}

# The containers/image and containers/storage configuration, kept under $WORK so that the
# machine's /etc/containers is neither needed nor changed. No registry is searched: every image
# comes from a local archive.
containers_env() {
  mkdir -p "$WORK/etc" "$WORK/tmp"
  cat >"$WORK/etc/policy.json" <<'EOF'
{ "default": [{ "type": "reject" }],
  "transports": {
    "oci-archive": { "": [{ "type": "insecureAcceptAnything" }] },
    "oci": { "": [{ "type": "insecureAcceptAnything" }] },
    "containers-storage": { "": [{ "type": "insecureAcceptAnything" }] },
    "dir": { "": [{ "type": "insecureAcceptAnything" }] } } }
EOF
  printf 'unqualified-search-registries = []\n' >"$WORK/etc/registries.conf"
  printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' \
    "$WORK/runroot" "$WORK/storage" >"$WORK/etc/storage.conf"
  export CONTAINERS_REGISTRIES_CONF="$WORK/etc/registries.conf"
  export CONTAINERS_STORAGE_CONF="$WORK/etc/storage.conf"
  export REGISTRIES_CONFIG_PATH="$WORK/etc/registries.conf"
  export TMPDIR="$WORK/tmp"
  export BUILDAH_ISOLATION=oci
}

# private_ns CMD... — run CMD in a private mount namespace whose /run and /var/lib are empty
# tmpfs. Whatever their flags say, skopeo and buildah keep a blob cache in
# /var/lib/containers/cache and buildah (with the runc it drives) state in /run/containers and
# /run/runc; there it all vanishes with the namespace instead of staying on the host.
private_ns() {
  unshare --mount --propagation private bash -c \
    'mount -t tmpfs -o mode=0755 lifeboat-image /run && mount -t tmpfs -o mode=0755 lifeboat-image /var/lib && exec "$@"' \
    _ "$@"
}

buildah_() {
  private_ns nice buildah --root "$WORK/storage" --runroot "$WORK/runroot" --storage-driver vfs \
    --registries-conf "$WORK/etc/registries.conf" "$@"
}

# ---------------------------------------------------------------------------------------------
# 1. The Debian base

base_key() {
  { echo "$DEBIAN_SUITE $DEBIAN_MIRROR recipe=$BASE_RECIPE"; packages "$1" | sort; } | sha | cut -c1-16
}
base_path() { echo "$IMAGES/base-$1-$DEBIAN_SUITE-$(base_key "$1").oci.tar"; }

# debootstrap_rootfs ROOTFS PACKAGES CACHE_DIR SUITE MIRROR SECURITY_MIRROR — runs in a private
# mount namespace. debootstrap takes only the release's packages, so the updates and security
# suites are applied after it with apt in the chroot; policy-rc.d keeps the packages' scripts
# from starting services meanwhile.
debootstrap_rootfs() {
  local rootfs="$1" pkgs="$2" debs="$3" suite="$4" mirror="$5" security="$6"
  debootstrap --variant=minbase --include="$pkgs" --cache-dir="$debs" "$suite" "$rootfs" "$mirror"
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$mirror" "$suite" "$mirror" "$suite" "$security" "$suite" >"$rootfs/etc/apt/sources.list"
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  mount -t proc proc "$rootfs/proc"
  chroot "$rootfs" apt-get update
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get -y --no-install-recommends dist-upgrade
  chroot "$rootfs" apt-get clean
  umount "$rootfs/proc"
  rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/resolv.conf"
  # The container runtime provides these; the build machine's must not ship in the image.
  rm -f "$rootfs/etc/hostname"
}

# pack_base TMP — TMP/rootfs as the one layer of an OCI image, archived to TMP/base.oci.tar.
pack_base() {
  local tmp="$1"
  nice umoci init --layout "$tmp/oci"
  nice umoci new --image "$tmp/oci:base"
  # Unpacking the empty image gives a bundle whose rootfs, replaced by ours, repacks as one layer.
  nice umoci unpack --image "$tmp/oci:base" "$tmp/bundle"
  rm -rf "$tmp/bundle/rootfs"
  mv "$tmp/rootfs" "$tmp/bundle/rootfs"
  nice umoci repack --image "$tmp/oci:base" "$tmp/bundle"
  nice umoci config --image "$tmp/oci:base" --os linux --architecture amd64 \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.cmd /bin/bash \
    --author "hack/image.sh (debootstrap $DEBIAN_SUITE minbase)"
  containers_env
  private_ns skopeo copy --quiet --policy "$WORK/etc/policy.json" "oci:$tmp/oci:base" "oci-archive:$tmp/base.oci.tar"
}

build_base() {
  local name="$1" out tmp pkgs start buildlog
  out="$(base_path "$name")"
  [[ -f "$out" ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root" "run hack/image.sh as root, or build with docker/podman (docs/image.md)"
  mkdir -p "$IMAGES" "$CACHE/logs" "$CACHE/debootstrap-debs"
  tmp="$(mktemp -d "$IMAGES/base-$name.tmp.XXXXXX")"
  buildlog="$CACHE/logs/image-base-$name.log"
  pkgs="$(packages "$name" | paste -sd, -)"
  log "debootstrap $DEBIAN_SUITE minbase + $pkgs, then the $DEBIAN_SUITE-updates and -security updates (cold build of the base; log: $buildlog)"
  start=$SECONDS
  # In a private mount namespace: the chroot's /proc and /sys mounts end with it and are never
  # seen by (or left in) the host's mount table.
  if ! nice -n 10 unshare --mount --propagation private bash -c "set -euo pipefail; $(declare -f debootstrap_rootfs); debootstrap_rootfs \"\$@\"" \
    _ "$tmp/rootfs" "$pkgs" "$CACHE/debootstrap-debs" "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" >"$buildlog" 2>&1; then
    tail -n 20 "$buildlog" >&2
    [[ -f "$tmp/rootfs/debootstrap/debootstrap.log" ]] && tail -n 20 "$tmp/rootfs/debootstrap/debootstrap.log" >&2
    rm -rf "$tmp"
    die "debootstrap of the $name base failed (log: $buildlog)" \
      "read the log above: a download error means $DEBIAN_MIRROR or $DEBIAN_SECURITY_MIRROR was unreachable (set DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR); an unknown package means a wrong name in image/$name/packages"
  fi
  # What a container runtime provides (devices, /proc, /sys, /run) or an image should not carry
  # (apt lists and caches: install-packages.sh drops the rest in the Containerfile's RUN).
  (cd "$tmp/rootfs" && rm -rf dev/* proc/* sys/* run/* tmp/* var/tmp/* var/lib/apt/lists/* \
    var/cache/apt/* var/log/* debootstrap usr/share/man/* usr/share/info/* usr/share/locale/*)
  find "$tmp/rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  find "$tmp/rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  [[ -z "$(find "$tmp/rootfs" -xdev -name 'gcc*' -path '*/bin/*' -print -quit)" ]] ||
    die "the $name base contains a compiler" "remove the package that pulls it in from image/$name/packages"
  # In the background and waited for: under `if !` or `||` bash would ignore errexit in it.
  pack_base "$tmp" >>"$buildlog" 2>&1 &
  wait $! || {
    tail -n 20 "$buildlog" >&2
    rm -rf "$tmp"
    die "packing the $name base with umoci/skopeo failed (log: $buildlog)" "read the log above"
  }
  mv "$tmp/base.oci.tar" "$out"
  rm -rf "$tmp"
  log "built the $name base in $((SECONDS - start))s -> $out ($(du -h "$out" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------
# 2. The build context

# The parts of dist/ the image runs; tests, e2e and benchmarks stay out.
DIST_DIRS=(cmd crds lib policies runner webhook)

# Every input of an image, in a stable order (the cache key hashes these).
input_files() {
  local name="$1"
  find "$REPO/image/$name" "$REPO/image/install-packages.sh" -type f | LC_ALL=C sort
  if [[ $name == lifeboat ]]; then
    echo "$REPO/package.json"
    echo "$REPO/package-lock.json"
    local d
    for d in "${DIST_DIRS[@]}"; do find "$REPO/dist/$d" -type f; done | LC_ALL=C sort
    find "$REPO/policies/examples" -type f | LC_ALL=C sort
  fi
}

check_dist() {
  [[ -f "$REPO/dist/cmd/lifeboat.js" && -f "$REPO/dist/crds/kind-validators.js" ]] ||
    die "dist/ is not built" "run: npm run build"
  # An outdated dist/ would be packed silently: refuse sources newer than the build output.
  local newer
  newer="$(find "$REPO/cmd" "$REPO/lib" "$REPO/runner" "$REPO/webhook" "$REPO/crds" "$REPO/policies" \
    -name '*.ts' -newer "$REPO/dist/cmd/lifeboat.js" -print -quit)"
  [[ -z "$newer" ]] || die "dist/ is older than $newer" "run: npm run build"
}

node_bin() { "$REPO/hack/nodejs.sh" bin-dir; }

input_key() {
  local name="$1"
  {
    echo "base $(base_key "$name") ref $(image_ref "$name")"
    [[ $name == lifeboat ]] && echo "node $("$REPO/hack/nodejs.sh" version) modules $(modules_key)"
    # shellcheck disable=SC2046  # one path per line, no spaces in them
    hash_files $(input_files "$name")
  } | sha
}

# The recipe (npm ci flags, what is pruned) is part of the key: bump prune= when it changes.
modules_key() {
  { hash_files "$REPO/package.json" "$REPO/package-lock.json"; echo "prune=1"; } | sha | cut -c1-16
}

# Production node_modules for package-lock.json, cached by the lock file's hash.
prod_modules() {
  local key out tmp
  key="$(modules_key)"
  out="$IMAGES/node-modules-$key"
  if [[ ! -f "$out/.complete" ]]; then
    tmp="$(mktemp -d "$out.tmp.XXXXXX")"
    cp "$REPO/package.json" "$REPO/package-lock.json" "$tmp/"
    log "npm ci --omit=dev (production dependencies; log: $CACHE/logs/image-npm.log)"
    # --ignore-scripts: no install scripts are needed by the runtime dependencies, and the
    # package's own `prepare` would build the project here.
    (cd "$tmp" && nice npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline) \
      >"$CACHE/logs/image-npm.log" 2>&1 || {
      tail -n 20 "$CACHE/logs/image-npm.log" >&2
      rm -rf "$tmp"
      die "npm ci --omit=dev failed (log: $CACHE/logs/image-npm.log)" "check that the npm registry is reachable"
    }
    rm -f "$tmp/package.json" "$tmp/package-lock.json" "$tmp/node_modules/.package-lock.json"
    # Type declarations and source maps are for editors and debuggers, not for running: about
    # a fifth of the dependencies' size.
    find "$tmp/node_modules" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -type f -delete
    find "$tmp/node_modules" -type d \( -name dist-types -o -path '*/node_modules/@types/*' \) -prune -exec rm -rf {} +
    touch "$tmp/.complete"
    rm -rf "$out"
    mv "$tmp" "$out"
  fi
  echo "$out/node_modules"
}

# make_context NAME DIR — DIR gets image/ (the Containerfiles and scripts) and, for lifeboat,
# node/ (the Node binary and its licence) and app/ (the package as installed in the image).
make_context() {
  local name="$1" ctx="$2" nodedir d
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp -a "$REPO/image" "$ctx/image"
  if [[ $name == lifeboat ]]; then
    check_dist
    nodedir="$(dirname "$(node_bin)")"
    mkdir -p "$ctx/node" "$ctx/app/dist" "$ctx/app/policies"
    # Only the node binary: npm, npx and corepack are not needed to run Lifeboat.
    cp "$nodedir/bin/node" "$nodedir/LICENSE" "$ctx/node/"
    for d in "${DIST_DIRS[@]}"; do cp -a "$REPO/dist/$d" "$ctx/app/dist/"; done
    cp -a "$REPO/policies/examples" "$ctx/app/policies/"
    cp "$REPO/package.json" "$ctx/app/"
    cp -a "$(prod_modules)" "$ctx/app/node_modules"
    chmod 0755 "$ctx/app/dist/cmd/lifeboat.js"
  fi
}

# ---------------------------------------------------------------------------------------------
# 3. The image

build_image() {
  local name="$1" out key ctx start buildlog ref
  out="$(archive_path "$name")"
  [[ $name == lifeboat ]] && check_dist
  key="$(input_key "$name")"
  if [[ -f "$out" && "$(cat "$out.inputs" 2>/dev/null)" == "$key" ]]; then
    log "$name image is up to date ($out)"
    echo "$out"
    return 0
  fi
  need_tools
  start=$SECONDS
  build_base "$name"
  ref="$(image_ref "$name")"
  mkdir -p "$WORK"
  # One build at a time: buildah's storage under $WORK is shared.
  exec 8>"$IMAGES/.build.lock"
  flock -w 900 8 || die "timed out waiting for another hack/image.sh build ($IMAGES/.build.lock)"
  containers_env
  BUILD_TMP="$(mktemp -d "$IMAGES/$name.tmp.XXXXXX")"
  # Whatever way this ends, no half-built archive, context or buildah storage stays behind.
  trap 'rc=$?; rm -rf "$BUILD_TMP" "$WORK/storage" "$WORK/runroot"; exit $rc' EXIT
  ctx="$BUILD_TMP/context"
  buildlog="$CACHE/logs/image-$name.log"
  make_context "$name" "$ctx"
  log "buildah bud $ref (log: $buildlog)"
  # The storage is emptied before and after: the archive is the only output, and a vfs store
  # keeps a full copy of every layer.
  rm -rf "$WORK/storage" "$WORK/runroot"
  if ! buildah_ bud --isolation oci --network none --layers=false \
    --signature-policy "$WORK/etc/policy.json" \
    --build-arg "BASE=oci-archive:$(base_path "$name")" \
    -f "$ctx/image/$name/Containerfile" -t "$ref" "$ctx" >"$buildlog" 2>&1 ||
    ! buildah_ push --signature-policy "$WORK/etc/policy.json" --quiet \
      "$ref" "oci-archive:$BUILD_TMP/image.oci.tar:$ref" >>"$buildlog" 2>&1; then
    tail -n 25 "$buildlog" >&2
    die "building the $name image failed (log: $buildlog)" "read the log above"
  fi
  rm -rf "$WORK/tmp"
  mv "$BUILD_TMP/image.oci.tar" "$out"
  echo "$key" >"$out.inputs"
  log "built $ref in $((SECONDS - start))s -> $out ($(du -h "$out" | cut -f1))"
  echo "$out"
}

# ---------------------------------------------------------------------------------------------
# 4. Verify with runc

# unpack_bundle ARCHIVE DIR — DIR/bundle: an OCI runtime bundle of the image.
unpack_bundle() {
  local archive="$1" dir="$2"
  containers_env
  private_ns skopeo copy --quiet --policy "$WORK/etc/policy.json" "oci-archive:$archive" "oci:$dir/layout:verify"

  umoci unpack --image "$dir/layout:verify" "$dir/bundle" >/dev/null
  echo "image $(basename "$archive"): $(du -mL "$archive" | cut -f1) MB archive (gzip layers), $(du -sm "$dir/bundle/rootfs" | cut -f1) MB unpacked"
}

# runc_config BUNDLE ARGS_JSON [EXTRA_JS] — the bundle's config.json for a check: not on a
# terminal, root read-only, a tmpfs /tmp, the image's own user, a cgroup of our own name.
runc_config() {
  local bundle="$1" args="$2" extra="${3:-}"
  "$(node_bin)/node" -e '
    const fs = require("fs");
    const [file, args, cgroup, extra] = process.argv.slice(1);
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    c.process.terminal = false;
    c.process.args = JSON.parse(args);
    c.root.readonly = true;
    c.mounts = c.mounts.filter((m) => m.destination !== "/tmp");
    c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=16m"] });
    c.linux.cgroupsPath = cgroup;
    if (extra) new Function("c", extra)(c);
    fs.writeFileSync(file, JSON.stringify(c, null, 2));
  ' "$bundle/config.json" "$args" "/lifeboat-image-verify-$$" "$extra"
}

# Remove what runc may leave: its state and our cgroup in every v1 hierarchy.
runc_cleanup() {
  local id="$1" root="$2" d
  runc --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  for d in /sys/fs/cgroup/*/lifeboat-image-verify-$$ /sys/fs/cgroup/lifeboat-image-verify-$$; do
    [[ -d "$d" ]] && rmdir "$d" 2>/dev/null || true
  done
  rm -rf "$root"
}

# The checks, run in the container as its user (mounted read-only at /verify/check.sh).
lifeboat_checks() {
  cat <<'EOF'
set -eu
node="$(node --version)"
echo "node $node"
case "$node" in v24.*) ;; *) echo "FAIL: node $node is not Node 24"; exit 1 ;; esac
lifeboat="$(lifeboat --version)"
echo "lifeboat $lifeboat at $(command -v lifeboat) -> $(readlink "$(command -v lifeboat)")"
mariadb-dump --version
mariadb --version
mariabackup --version 2>&1
echo "mbstream at $(command -v mbstream)"
echo "user $(id -u):$(id -g) ($(id -un))"
if touch /probe 2>/dev/null; then echo "FAIL: the root filesystem is writable"; exit 1; fi
echo "root filesystem read-only (touch /probe refused)"
touch "$TMPDIR/probe" && echo "TMPDIR=$TMPDIR writable"
for tool in gcc cc c++ make ld as; do
  if command -v "$tool" >/dev/null; then echo "FAIL: $tool is in the image"; exit 1; fi
done
lists="$(find /var/lib/apt/lists -type f | wc -l)"
[ "$lists" = 0 ] || { echo "FAIL: $lists apt list files left"; exit 1; }
echo "no compilers or build tools; no apt lists"
for cmd in webhook runner worker; do lifeboat "$cmd" --help >/dev/null; done
# The dependencies load (declarations and source maps were pruned from them).
(cd /opt/lifeboat && node --input-type=module -e "for (const m of ['@kubernetes/client-node', '@aws-sdk/client-s3', 'mysql2/promise', 'express', 'pino']) await import(m);")
echo "dependencies load: @kubernetes/client-node @aws-sdk/client-s3 mysql2 express pino"
echo "lifeboat webhook/runner/worker --help ok"
EOF
}

verify_lifeboat() {
  local archive="$1" dir="$2" id="lifeboat-image-verify-$$" out first
  unpack_bundle "$archive" "$dir"
  mkdir -p "$dir/verify"
  lifeboat_checks >"$dir/verify/check.sh"
  runc_config "$dir/bundle" '["/bin/sh", "/verify/check.sh"]' "
    c.mounts.push({ destination: '/verify', type: 'bind', source: '$dir/verify', options: ['rbind', 'ro'] });
  "
  out="$(runc --root "$dir/runc" run --bundle "$dir/bundle" "$id" 2>&1)" || {
    echo "$out" >&2
    die "the lifeboat image failed its check in runc (output above)"
  }
  echo "$out"
  runc --root "$dir/runc" delete --force "$id" >/dev/null 2>&1 || true
  # The entrypoint as a Deployment runs it (no command, args only): tini, then lifeboat.
  runc_config "$dir/bundle" "$(entrypoint_json "$dir/bundle" '"--version"')"
  out="$(runc --root "$dir/runc" run --bundle "$dir/bundle" "$id" 2>&1)" || {
    echo "$out" >&2
    die "the lifeboat image's entrypoint failed in runc (output above)"
  }
  first="$(echo "$out" | head -n1)"
  echo "entrypoint: $(process_args "$dir/bundle") -> $first"
  [[ "$first" == "$(version)" ]] || die "the entrypoint printed '$out', not the version $(version)"
}

# entrypoint_json BUNDLE [ARG_JSON...] — the image's ENTRYPOINT followed by ARGs, as a JSON array.
entrypoint_json() {
  "$(node_bin)/node" -e '
    const fs = require("fs");
    const idx = JSON.parse(fs.readFileSync(process.argv[1] + "/../layout/index.json", "utf8"));
    const blob = (d) => JSON.parse(fs.readFileSync(process.argv[1] + "/../layout/blobs/" + d.replace(":", "/"), "utf8"));
    const manifest = blob(idx.manifests[0].digest);
    const config = blob(manifest.config.digest).config;
    process.stdout.write(JSON.stringify([...config.Entrypoint, ...JSON.parse("[" + process.argv[2] + "]")]));
  ' "$1" "${2:-}"
}
process_args() { "$(node_bin)/node" -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1] + "/config.json")).process.args.join(" "))' "$1"; }

# mariadb_start ID DIR — start the server detached; its output goes to DIR/server.log.
mariadb_start() {
  runc --root "$2/runc" run --detach --bundle "$2/bundle" "$1" >>"$2/server.log" 2>&1 </dev/null ||
    { cat "$2/server.log" >&2; die "the mariadb image did not start in runc (output above)"; }
}

# mariadb_sql ID DIR SQL — run SQL over TCP as the created account. The password is read from
# the mounted Secret file inside the container: it is in no process's arguments.
mariadb_sql() {
  # shellcheck disable=SC2016  # expanded in the container
  runc --root "$2/runc" exec "$1" sh -c \
    'MYSQL_PWD="$(cat /run/secrets/mariadb/password)" exec mariadb --protocol=tcp -h 127.0.0.1 -u lifeboat -N -B -e "$0"' "$3"
}

# mariadb_wait ID DIR — until the account can log in over TCP; fails when the server exits.
mariadb_wait() {
  local i
  for ((i = 0; i < 120; i++)); do
    [[ "$(runc --root "$2/runc" state "$1" 2>/dev/null)" == *'"status": "stopped"'* ]] && break
    mariadb_sql "$1" "$2" 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  cat "$2/server.log" >&2
  die "the mariadb image did not accept the created account over TCP within 60s (server log above)"
}

# mariadb_stop ID DIR — SIGTERM, as the kubelet stops a pod; true when the server shut down.
mariadb_stop() {
  local i
  runc --root "$2/runc" kill "$1" TERM
  for ((i = 0; i < 60; i++)); do
    [[ "$(runc --root "$2/runc" state "$1" 2>/dev/null)" == *'"status": "stopped"'* ]] && break
    sleep 0.5
  done
  runc --root "$2/runc" delete --force "$1" >/dev/null 2>&1 || true
  [[ "$(grep -c 'Shutdown complete' "$2/server.log")" -ge "${3:-1}" ]] ||
    { cat "$2/server.log" >&2; die "the mariadb server did not shut down cleanly on SIGTERM (server log above)"; }
}

verify_mariadb() {
  local archive="$1" dir="$2" id="lifeboat-image-verify-$$" out
  unpack_bundle "$archive" "$dir"
  mkdir -p "$dir/datadir" "$dir/secrets"
  chown 999:999 "$dir/datadir"
  (umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/secrets/password")
  chown 999:999 "$dir/secrets/password"
  # A volume for the datadir and a Secret file for the password, as the StatefulSet mounts them;
  # the container has its own network namespace (runc's default), so port 3306 is its own.
  runc_config "$dir/bundle" "$(entrypoint_json "$dir/bundle")" "
    c.mounts.push({ destination: '/var/lib/mysql', type: 'bind', source: '$dir/datadir', options: ['rbind', 'rw'] });
    c.mounts.push({ destination: '/run/secrets/mariadb', type: 'bind', source: '$dir/secrets', options: ['rbind', 'ro'] });
    c.process.env.push('MARIADB_USER=lifeboat', 'MARIADB_PASSWORD_FILE=/run/secrets/mariadb/password', 'MARIADB_DATABASE=app');
  "
  mariadb_start "$id" "$dir"
  mariadb_wait "$id" "$dir"
  grep 'mariadb-entrypoint:' "$dir/server.log"
  out="$(mariadb_sql "$id" "$dir" "SELECT CONCAT('logged in over TCP as ', CURRENT_USER(), ' to ', VERSION(), '; log_bin=', @@log_bin, ', datadir=', @@datadir, ', databases: ', (SELECT GROUP_CONCAT(schema_name) FROM information_schema.schemata WHERE schema_name = 'app'))")"
  echo "$out"
  [[ "$out" == *"lifeboat@%"*"log_bin=ON"*"databases: app" ]] || die "the mariadb image's account, binlog or database is not as configured: $out"
  out="$(runc --root "$dir/runc" exec "$id" id -u):$(runc --root "$dir/runc" exec "$id" id -un)"
  echo "server runs as uid:user $out"
  [[ "$out" == "999:mysql" ]] || die "the mariadb server runs as $out, not 999:mysql"
  if runc --root "$dir/runc" exec "$id" touch /probe 2>/dev/null; then die "the mariadb image's root filesystem is writable"; fi
  echo "root filesystem read-only; the datadir volume holds: $(ls "$dir/datadir" | tr '\n' ' ')"
  mariadb_sql "$id" "$dir" "CREATE TABLE app.kept (id INT PRIMARY KEY); INSERT INTO app.kept VALUES (42)"
  mariadb_stop "$id" "$dir" 1
  echo "SIGTERM: shutdown complete"
  # A restart on the initialised datadir (a rescheduled pod) keeps the data and the account.
  mariadb_start "$id" "$dir"
  mariadb_wait "$id" "$dir"
  out="$(mariadb_sql "$id" "$dir" "SELECT id FROM app.kept")"
  [[ "$out" == 42 ]] || die "after a restart the mariadb image lost its data (app.kept: '$out')"
  [[ "$(grep -c 'initialising' "$dir/server.log")" == 1 ]] || die "the mariadb entrypoint initialised the datadir again on restart"
  echo "restarted on the same datadir: not initialised again, app.kept still holds $out"
  mariadb_stop "$id" "$dir" 2
}

verify() {
  local name="$1" archive dir rc=0
  archive="$(archive_path "$name")"
  [[ -f "$archive" ]] || die "no $name image at $archive" "run: hack/image.sh build $name"
  need_apt runc umoci skopeo
  mkdir -p "$WORK"
  dir="$(mktemp -d "$WORK/verify-$name.XXXXXX")"
  # shellcheck disable=SC2064  # expanded now: the paths are fixed
  trap "runc_cleanup lifeboat-image-verify-$$ '$dir/runc'; rm -rf '$dir'" EXIT
  "verify_$name" "$archive" "$dir" || rc=$?
  return $rc
}

cmd="${1:-build}"
name="${2:-lifeboat}"
check_name "$name"
case "$cmd" in
  build) build_image "$name" ;;
  path)
    out="$(archive_path "$name")"
    [[ -f "$out" ]] || die "the $name image is not built ($out)" "run: hack/image.sh build $name"
    echo "$out"
    ;;
  context)
    ctx="$IMAGES/context-$name"
    make_context "$name" "$ctx"
    echo "$ctx"
    ;;
  verify) verify "$name" ;;
  *) die "unknown command '$cmd'" "use: $0 build|path|context|verify [lifeboat|mariadb]" ;;
esac
