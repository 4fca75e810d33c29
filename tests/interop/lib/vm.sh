#!/bin/bash
# vm.sh - boot a throw-away Debian kernel under QEMU/TCG on the HOST's root filesystem (shared
# read-only over virtio-9p, with a tmpfs overlay so the guest can write anywhere), run one script
# as root inside it, power off, and return the script's exit status.
#
#   vm.sh --prepare KDIR     extract vmlinux and build the initrd for kernel tree KDIR, then exit
#   vm.sh SCRIPT [ARGS...]   boot and run SCRIPT (a host path, visible at the same path in the guest)
#
# Environment (all optional except KDIR when booting):
#   KDIR            kernel tree made by `dpkg -x linux-image-*.deb KDIR`
#   SMP=2 MEM=2G TIMEOUT=600   vCPUs, guest RAM, wall-clock limit
#   RW_DIRS="/a /b" host folders shared READ-WRITE at the same path (all other guest writes
#                   land in the tmpfs overlay and vanish at power-off)
#   TAP=ifname      attach a virtio-net NIC (guest eth0) to this existing tap device; run vm.sh
#                   inside the network namespace that holds the tap. There is never a QEMU
#                   user-mode (slirp) network.
#   MAC, NIC_OPTS   MAC address and extra virtio-net-pci properties (e.g. host_mtu=65520)
#   GUEST_ENV="A=1 B=2"  environment for the guest script (values without spaces)
#   TCG_THREAD=single  QEMU's TCG threading (multi is faster but not reliable here, see below)
#   VERBOSE=1       show kernel boot messages;  PRINT_CMD=1  print the QEMU command line
#
# Exit status: the script's (0..126); 124 = timeout; 200 = the guest died without a status.
#
# Why these choices: TCG because the test machines have no KVM; an uncompressed ELF vmlinux
# because it boots about twice as fast under TCG as a bzImage (no emulated decompression); the
# host rootfs so that the guest runs exactly the nvme-cli/fio/project binaries installed on the
# host; a quiet console because every console line costs tens of milliseconds under TCG; the
# status goes out through isa-debug-exit so that the caller gets the script's exit code.
set -euo pipefail
SELF=$(readlink -f "${BASH_SOURCE[0]}")

kernel_paths() {  # sets MODBASE KV VMLINUZ VMLINUX INITRD for $KDIR
    KDIR=$(readlink -f "$KDIR")
    MODBASE="$KDIR/lib/modules"; [ -d "$MODBASE" ] || MODBASE="$KDIR/usr/lib/modules"
    KV=$(cd "$MODBASE" && ls | head -1)
    [ -n "$KV" ] || { echo "vm.sh: no kernel modules under $KDIR" >&2; exit 2; }
    [ -e "$KDIR/lib" ] || ln -s usr/lib "$KDIR/lib"      # so depmod/modprobe -d KDIR work
    VMLINUZ="$KDIR/boot/vmlinuz-$KV"
    VMLINUX="$KDIR/boot/vmlinux-$KV"
    # the initrd's name carries a hash of this script, so editing the init code rebuilds it
    INITRD="$KDIR/hnvmf-initrd-$KV-$(sha1sum "$SELF" | cut -c1-10).cpio.gz"
}

extract_vmlinux() {  # $1 = bzImage, $2 = output: find the compressed ELF payload and unpack it
    python3 - "$1" "$2" <<'PY'
import sys, subprocess
d = open(sys.argv[1], 'rb').read()
for magic, cmd in ((b'\xfd7zXZ\x00', ['xz', '-dcq']), (b'\x28\xb5\x2f\xfd', ['zstd', '-dcq']),
                   (b'\x1f\x8b\x08', ['gzip', '-dcq'])):
    i = d.find(magic)
    while i >= 0:
        r = subprocess.run(cmd, input=d[i:], capture_output=True)
        if r.stdout[:4] == b'\x7fELF':
            open(sys.argv[2] + '.tmp', 'wb').write(r.stdout)
            import os; os.rename(sys.argv[2] + '.tmp', sys.argv[2]); sys.exit(0)
        i = d.find(magic, i + 1)
sys.exit(1)
PY
}

build_initrd() {
    local st; st=$(mktemp -d "${TMPDIR:-/tmp}/hnvmf-initrd.XXXXXX")
    mkdir -p "$st"/{bin,dev,proc,sys,lower,upper,newroot,mods}
    cp /bin/busybox "$st/bin/busybox"      # from busybox-static
    [ -f "$MODBASE/$KV/modules.dep" ] || depmod -b "$KDIR" "$KV"
    : > "$st/mods/order"
    for m in virtio_pci 9pnet_virtio 9p overlay; do
        modprobe -d "$KDIR" -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
    done | awk '!seen[$0]++' | while read -r ko; do
        b=$(basename "$ko"); b=${b%.xz}; b=${b%.zst}; b=${b%.gz}
        case $ko in *.xz) xz -dc "$ko";; *.zst) zstd -dcq "$ko";; *.gz) gzip -dc "$ko";; *) cat "$ko";; esac > "$st/mods/$b"
        echo "$b" >> "$st/mods/order"
    done
    cat > "$st/init" <<'INIT'
#!/bin/busybox sh
# stage 1 (initrd): mount the host's / read-only over 9p, put a tmpfs overlay on it, switch_root
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m || echo "hnvmf-init: insmod $m failed"; done
arg() { sed -n "s/.*\bqp\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
KMODS=$(arg kmods); RW=$(arg rw)
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose rootfs /lower \
  || { echo "hnvmf-init: cannot mount the 9p root"; echo o > /proc/sysrq-trigger; }
mount -t tmpfs -o mode=0755 tmpfs /upper; mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot \
  || { echo "hnvmf-init: overlay failed"; echo o > /proc/sysrq-trigger; }
mount --move /proc /newroot/proc; mount --move /sys /newroot/sys; mount --move /dev /newroot/dev
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp      # the host's /tmp is not the guest's business
mkdir -p /newroot/dev/pts /newroot/dev/shm
ln -sf /proc/self/fd /newroot/dev/fd       # devtmpfs has none; bash's <(...) needs it
ln -sf /proc/self/fd/0 /newroot/dev/stdin; ln -sf /proc/self/fd/1 /newroot/dev/stdout; ln -sf /proc/self/fd/2 /newroot/dev/stderr
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
# kernel modules: the unpacked tree (visible through the 9p root) becomes /lib/modules
mkdir -p /newroot/usr/lib/modules
mount --bind "/newroot$KMODS" /newroot/usr/lib/modules
i=0; for d in $(echo "$RW" | tr , ' '); do     # read-write shares, same path as on the host
  mkdir -p "/newroot$d"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 "rw$i" "/newroot$d" || echo "hnvmf-init: rw$i failed"
  i=$((i+1))
done
cp /stage2 /newroot/run/stage2; chmod +x /newroot/run/stage2
exec switch_root /newroot /run/stage2
INIT
    cat > "$st/stage2" <<'STAGE2'
#!/bin/bash
# stage 2: PID 1 on the host rootfs + overlay; runs the script, reports its status, powers off
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
arg() { sed -n "s/.*\bqp\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
hostname hnvmf-guest
ip link set lo up
modprobe configfs 2>/dev/null && mount -t configfs none /sys/kernel/config
mount -t debugfs none /sys/kernel/debug 2>/dev/null
modprobe virtio-rng 2>/dev/null
dec() { printf '%b' "$(sed 's/%/\\x/g')"; }   # undo URL-encoding
script=$(arg script | dec)
cd "$(arg cwd | dec)" 2>/dev/null || cd /
eval "set -- $(arg args | dec)"
eval "$(arg env | dec)"
bash "$script" "$@" < /dev/console > /dev/console 2>&1
rc=$?
sync
# isa-debug-exit: we write rc+1, QEMU exits with ((rc+1)<<1)|1
v=$((rc > 126 ? 127 : rc + 1))
printf "\\$(printf '%03o' $v)" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
echo o > /proc/sysrq-trigger
sleep 10
STAGE2
    chmod +x "$st/init" "$st/stage2"
    (cd "$st" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"; rm -rf "$st"
    # older initrds of this kernel (from earlier versions of this script) are dead weight
    for f in "$KDIR"/hnvmf-initrd-"$KV"-*.cpio.gz; do [ "$f" = "$INITRD" ] || rm -f "$f"; done
}

prepare() {
    kernel_paths
    if [ ! -f "$VMLINUX" ]; then
        extract_vmlinux "$VMLINUZ" "$VMLINUX" || echo "vm.sh: vmlinux extraction failed, booting the bzImage" >&2
    fi
    [ -f "$INITRD" ] || build_initrd
}

if [ "${1:-}" = "--prepare" ]; then
    KDIR=${2:?usage: vm.sh --prepare KDIR}; prepare; exit 0
fi

: "${KDIR:?vm.sh: set KDIR to an unpacked kernel tree}"
SMP=${SMP:-2}; MEM=${MEM:-2G}; TIMEOUT=${TIMEOUT:-600}
[ "${1:-}" = "--" ] && shift
[ $# -ge 1 ] || { echo "usage: $0 SCRIPT [ARGS...] | --prepare KDIR" >&2; exit 2; }
SCRIPT=$(readlink -f "$1"); shift
ARGS=("$@")
prepare
KERNEL_IMG=$VMLINUZ; [ -f "$VMLINUX" ] && KERNEL_IMG=$VMLINUX

urlenc() { local s=$1 o= c i; for ((i=0;i<${#s};i++)); do c=${s:i:1}
    case $c in [a-zA-Z0-9./_:@,+=-]) o+=$c;; *) o+=$(printf '%%%02x' "'$c");; esac; done; printf %s "$o"; }
qenv=""; for a in ${GUEST_ENV:-}; do qenv+="$(urlenc "export $(printf '%q' "${a%%=*}")=$(printf '%q' "${a#*=}");")"; done
qargs=""; for a in "${ARGS[@]+"${ARGS[@]}"}"; do qargs+="$(urlenc "$(printf '%q' "$a")")%20"; done

# One host thread for all vCPUs (thread=single): with multi-threaded TCG, Debian's 6.12 now and
# then oopses at boot ("int3" in code being live-patched while another vCPU runs it). It also
# leaves the second host core to the target.
QEMU=(qemu-system-x86_64 -M pc -accel "tcg,thread=${TCG_THREAD:-single}" -cpu max -smp "$SMP" -m "$MEM"
      -nodefaults -display none -no-reboot -serial stdio -monitor none
      -kernel "$KERNEL_IMG" -initrd "$INITRD"
      -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -device virtio-rng-pci
      -fsdev local,id=rootfs,path=/,security_model=none,readonly=on,multidevs=remap
      -device virtio-9p-pci,fsdev=rootfs,mount_tag=rootfs)
rw=""; i=0
for d in ${RW_DIRS:-}; do d=$(readlink -f "$d")
    QEMU+=(-fsdev "local,id=rw$i,path=$d,security_model=none,multidevs=remap"
           -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
    rw+="${rw:+,}$d"; i=$((i+1))
done
if [ -n "${TAP:-}" ]; then
    QEMU+=(-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
           -device "virtio-net-pci,netdev=n0,mac=${MAC:-52:54:00:12:34:56}${NIC_OPTS:+,$NIC_OPTS}")
fi
QUIET=quiet; [ -n "${VERBOSE:-}" ] && QUIET=""
APPEND="console=ttyS0 $QUIET panic=-1 oops=panic rdinit=/init tsc=reliable clocksource=tsc no_timer_check net.ifnames=0 \
qp.kmods=$MODBASE qp.script=$(urlenc "$SCRIPT") qp.cwd=$(urlenc "$PWD") qp.rw=$rw qp.args=$qargs qp.env=$qenv"
QEMU+=(-append "$APPEND")

[ -n "${PRINT_CMD:-}" ] && { printf '%q ' "${QEMU[@]}"; echo; } >&2
set +e
timeout --foreground -k 5 "$TIMEOUT" "${QEMU[@]}" </dev/null
s=$?
set -e
case $s in
  124|137) echo "vm.sh: TIMEOUT after ${TIMEOUT}s" >&2; exit 124;;
  *) if (( s & 1 )) && (( s >= 3 )); then exit $(( (s >> 1) - 1 )); fi
     echo "vm.sh: guest ended without status (qemu exit $s)" >&2; exit 200;;
esac
