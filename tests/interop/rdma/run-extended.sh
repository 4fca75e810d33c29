#!/bin/bash
# run-extended.sh - the longer NVMe/RDMA scenarios, not part of `make test`: boots the test guest
# (lib/vm.sh) and runs guest-extended.sh in it (hnvmfd and the kernel nvme-rdma host both inside
# the guest, over soft-RoCE): RDMA + TCP multipath, IPv6, CM probe, data pool pressure, disconnect
# under I/O, drain on SIGTERM, and on request a link flap. See docs/rdma.md.
# usage: tests/interop/rdma/run-extended.sh BUILD_DIR
#   env: KVER=61|612, CASES="disc io ...", MIB, LOG_LEVEL (the checks of in-capsule data, SEND
#   with Invalidate and buffer waits read hnvmfd's debug log, so keep debug for those),
#   SCRIPT=guest-linkdown-nvmet.sh (the link flap against the kernel's own target instead)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(readlink -f "$1")
CACHE=${HNVMF_VM_CACHE:-$HOME/.cache/hnvmf-vm}
case ${KVER:-61} in
  61) KDIR=$CACHE/k61; NVME=nvme;;
  612) KDIR=$CACHE/trixie/k612; NVME=$CACHE/trixie/bin/nvme;;
  *) echo "KVER must be 61 or 612" >&2; exit 2;;
esac
[ -x "$BUILD/target/hnvmfd" ] || { echo "no $BUILD/target/hnvmfd" >&2; exit 2; }
# the CM probe (a userspace client for what the kernel host never sends) next to the binaries
mkdir -p "$BUILD/interop"
PROBE=$BUILD/interop/rdma-cm-probe
gcc -O2 -Wall -Wextra -Werror -o "$PROBE" "$HERE/rdma-cm-probe.c" -lrdmacm -libverbs
export KDIR MEM=${MEM:-2G} SMP=${SMP:-4} TIMEOUT=${TIMEOUT:-600}
export GUEST_ENV="BUILD=$BUILD PROBE=$PROBE NVME=$NVME CASES=$(echo "${CASES:-}" | tr " " ,) MIB=${MIB:-64} LOG_LEVEL=${LOG_LEVEL:-debug}"
exec "$HERE/../lib/vm.sh" "$HERE/${SCRIPT:-guest-extended.sh}"
