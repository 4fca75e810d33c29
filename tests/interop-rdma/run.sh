#!/bin/bash
# run.sh - boots the QEMU test guest and runs guest-rdma.sh in it (NVMe/RDMA over soft-RoCE:
# hnvmfd and the kernel nvme-rdma host both inside the guest).
# usage: tests/interop-rdma/run.sh [BUILD_DIR]   env: KVER=61|612, CASES="disc io ...", MIB
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(readlink -f "${1:-$HERE/../../build-rdma}")
VM_BASE=${VM_BASE:-$HOME/.cache/hnvmf-vm}
KIT=${KIT:-/work/shared/interop-vm}
case ${KVER:-61} in
  61) KDIR=$VM_BASE/k61; NVME=nvme;;
  612) KDIR=$VM_BASE/trixie/k612; NVME=$VM_BASE/trixie/bin/nvme;;
  *) echo "KVER must be 61 or 612" >&2; exit 2;;
esac
[ -x "$BUILD/target/hnvmfd" ] || { echo "no $BUILD/target/hnvmfd" >&2; exit 2; }
# the CM probe (a userspace client for what the kernel host never sends) next to the binaries
mkdir -p "$BUILD/tests/interop-rdma"
gcc -O2 -Wall -Werror -o "$BUILD/tests/interop-rdma/rdma-cm-probe" "$HERE/rdma-cm-probe.c" -lrdmacm -libverbs
export KDIR MEM=${MEM:-2G} SMP=${SMP:-4} TIMEOUT=${TIMEOUT:-600}
export GUEST_ENV="BUILD=$BUILD NVME=$NVME CASES=$(echo "${CASES:-}" | tr " " ,) MIB=${MIB:-64} LOG_LEVEL=${LOG_LEVEL:-debug}"
exec "$KIT/run-guest.sh" "$HERE/${SCRIPT:-guest-rdma.sh}"
