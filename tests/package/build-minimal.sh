#!/bin/bash
# The daemon alone builds without cmocka and the RDMA libraries: configure with the tests, RDMA
# and the RBD backend off (librados itself links libibverbs and librdmacm, for Ceph's RDMA
# messenger) - warnings are errors, as in a developer build - and build only hnvmfd; the result
# links no libibverbs/librdmacm/librbd and runs.
#   usage: tests/package/build-minimal.sh SOURCE_DIR      (builds in a temporary directory, -j2)
set -u
SRC=${1:?usage: $0 source-dir}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$SRC" -B "$tmp" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHNVMF_TESTS=OFF -DHNVMF_RDMA=OFF -DHNVMF_RBD=OFF \
	-DHNVMF_MAN=OFF -DHNVMF_WERROR=ON >"$tmp/log" 2>&1 &&
	cmake --build "$tmp" -j2 --target hnvmfd >>"$tmp/log" 2>&1 || { cat "$tmp/log"; echo "FAIL: build"; exit 1; }
failed=0
# pkg-config was never asked for them: the configuration did not need them
if grep -qE '^(CMOCKA|IBVERBS|RDMACM)_FOUND' "$tmp/CMakeCache.txt"; then
	echo "FAIL: configure looked for cmocka or the RDMA libraries"
	failed=1
fi
if ldd "$tmp/target/hnvmfd" | grep -E 'libibverbs|librdmacm|libcmocka|librbd|librados'; then
	echo "FAIL: hnvmfd links a library it should not"
	failed=1
fi
"$tmp/target/hnvmfd" --version || failed=1
((failed == 0)) && echo "hnvmfd built without tests and RDMA"
((failed == 0))
