#!/bin/sh
# Install every Debian package hnvmf's build and tests need. Does nothing when all are present.
# clang and libclang-rt-14-dev (libFuzzer, the sanitizer runtimes) build the fuzz targets.
# libsystemd-dev (sd_notify), pandoc (man pages), dpkg-dev (the package's shlibdeps) and systemd
# (systemd-analyze verify on the unit) are for operations (docs/operations.md).
# librbd-dev and librados-dev build the RBD backend; ceph-mon, ceph-osd and ceph-common run the
# throw-away cluster of tests/ceph (no ceph-mgr: not needed).
# The interop suite's own packages (QEMU, guest kernels, nvme-cli) are set up by tests/interop/setup.sh.
set -eu
PKGS="build-essential cmake pkg-config libssl-dev openssl libnvme-dev liburing-dev libisal-dev libjson-c-dev
      libibverbs-dev librdmacm-dev libinih-dev libcmocka-dev iproute2 python3
      libsystemd-dev libmicrohttpd-dev python3-prometheus-client curl
      clang libclang-rt-14-dev pandoc dpkg-dev systemd
      librbd-dev librados-dev ceph-mon ceph-osd ceph-common"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing:$missing" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
