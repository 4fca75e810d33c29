# standin-nvmet.sh - the Linux kernel target (nvmet) inside the guest, configured like the
# hnvmfd configuration the runner generates, so the suite itself can be proven before (and
# independently of) hnvmfd: HNVMF_INTEROP_TARGET=nvmet. Traffic runs over the guest's loopback.
# It also supplies the tgt_* answers that the host side gives for hnvmfd (see tgt in lib.sh).
NVMET=/sys/kernel/config/nvmet

# standin_ramdisk NAME MIB: a memory-backed null_blk device (memory_backed=1, or reads return
# zeros); prints its /dev path
standin_ramdisk() {
    local d=/sys/kernel/config/nullb/$1
    mkdir "$d" && echo "$2" > "$d/size" && echo 1 > "$d/memory_backed" &&
        echo "$BLOCK_SIZE" > "$d/blocksize" && echo 1 > "$d/power" || return 1
    if [ -b "/dev/$1" ]; then echo "/dev/$1"; else echo "/dev/nullb$(cat "$d/index")"; fi
}

standin_subsys() {  # NQN SERIAL MODEL MIB ALLOW_ANY [HOSTNQN...]
    local nqn=$1 serial=$2 model=$3 mib=$4 any=$5 dev h; shift 5
    local s=$NVMET/subsystems/$nqn
    dev=$(standin_ramdisk "ram-${serial}" "$mib") || return 1
    mkdir "$s" && echo "$serial" > "$s/attr_serial" && echo "$model" > "$s/attr_model" &&
        echo "$any" > "$s/attr_allow_any_host" || return 1
    for h; do
        [ -d "$NVMET/hosts/$h" ] || mkdir "$NVMET/hosts/$h" || return 1
        ln -s "$NVMET/hosts/$h" "$s/allowed_hosts/$h" || return 1
    done
    mkdir "$s/namespaces/1" && echo -n "$dev" > "$s/namespaces/1/device_path" &&
        echo 1 > "$s/namespaces/1/enable"
}

standin_port() {  # ID SVCID NQN...
    local p=$NVMET/ports/$1 sv=$2 n; shift 2
    mkdir "$p" && echo tcp > "$p/addr_trtype" && echo ipv4 > "$p/addr_adrfam" &&
        echo "$TRADDR" > "$p/addr_traddr" && echo "$sv" > "$p/addr_trsvcid" || return 1
    for n; do ln -s "$NVMET/subsystems/$n" "$p/subsystems/$n" || return 1; done
}

standin_setup() {
    modprobe -a nvmet nvmet-tcp nf_tables || return 1
    modprobe null_blk nr_devices=0 || return 1
    [ -d /sys/kernel/config/nullb ] || { echo "null_blk has no configfs"; return 1; }
    standin_subsys "$OPEN_NQN" "$OPEN_SERIAL" "$OPEN_MODEL" $((OPEN_BYTES >> 20)) 1 || return 1
    standin_subsys "$RESTR_NQN" "$RESTR_SERIAL" "$RESTR_MODEL" $((RESTR_BYTES >> 20)) 0 \
        "$(cat /etc/nvme/hostnqn)" "$ALLOWED_HOSTNQN" || return 1
    # nvmet's discovery log lists the subsystems of the port it is asked through, so the
    # discovery port carries the subsystems too (IO_PORTS says so to the cases)
    standin_port 1 "$IO_PORT" "$OPEN_NQN" "$RESTR_NQN" || return 1
    standin_port 2 "$DISC_PORT" "$OPEN_NQN" "$RESTR_NQN" || return 1
    echo "stand-in nvmet ready on $TRADDR:$IO_PORT and :$DISC_PORT"
}

# target-side sockets on the listening ports (nvmet has no controller list before 6.9's
# debugfs, and Debian does not enable that): one per queue, 0 exactly when no controller is left
tgt_conn_count() {
    local f; f=$(for p in $IO_PORTS; do printf 'sport = :%s or ' "$p"; done)
    ss -Htn state established "( ${f% or } )" | wc -l
}
tgt_ctrl_count() { tgt_conn_count; }
tgt_log_count() { dmesg | grep nvmet | tail -n +"${2:-1}" | grep -cE "$1"; true; }
tgt_log_mark() { echo $(( $(dmesg | grep -c nvmet) + 1 )); }
tgt_log_tail() { dmesg | grep nvmet | tail -n "${1:-20}"; }
tgt_alive() { true; }
tgt_state() { ss -Htn state established; }
tgt_ns_add() {  # NQN NSID MIB
    local dev ns=$NVMET/subsystems/$1/namespaces/$2
    dev=$(standin_ramdisk "ram-added-$2" "$3") || return 1
    mkdir "$ns" && echo -n "$dev" > "$ns/device_path" && echo 1 > "$ns/enable"
}
