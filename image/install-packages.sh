#!/bin/sh
# install-packages.sh PACKAGE_LIST — make a Debian base hold the listed packages, then strip
# what an image does not need. Runs in the Containerfiles' RUN step.
#
# From a debootstrap base (hack/image.sh) every package is already installed and the build has
# no network: nothing is fetched. From debian:bookworm-slim (docker/podman build) they are
# installed with apt here. Either way no apt lists, caches or logs stay behind.
set -eu

list="$1"
missing=""
for pkg in $(sed -e 's/#.*//' "$list"); do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $pkg"
  fi
done

if [ -n "$missing" ]; then
  echo "installing from Debian:$missing"
  apt-get update
  # shellcheck disable=SC2086  # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

apt-get clean
# Keep each package's copyright file (the licences); the rest of the docs, man pages and
# translations only add size.
find /usr/share/doc -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find /usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
  /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/log/bootstrap.log \
  /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian /tmp/* /var/tmp/*
