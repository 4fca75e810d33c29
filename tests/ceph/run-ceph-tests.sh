#!/bin/bash
# Runs a test against a throw-away cluster of its own (test_rbd, test_gateway, test-gw-group.sh):
# one cluster for all its cases, always stopped at the end. Exit 77 (ctest: skipped) with the
# reason when the Ceph packages are not installed.
#   usage: tests/ceph/run-ceph-tests.sh COMMAND [ARGS...]
set -u
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
if ! "$HERE/cluster.sh" check; then
	echo "SKIPPED: the Ceph packages are not installed" >&2
	exit 77
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/hnvmf-ceph.XXXXXX")
trap '"$HERE/cluster.sh" stop "$D/c" >/dev/null 2>&1; rm -rf "$D"' EXIT
"$HERE/cluster.sh" start "$D/c" >/dev/null || exit 1
# librbd prints its errors (the timeouts the last case provokes) on stderr: kept out of the log.
CEPH_CONF=$D/c/ceph.conf HNVMF_CEPH_DIR=$D/c "$@"
