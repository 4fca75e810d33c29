# nvme connect to each subsystem; what nvme list, id-ctrl, id-ns and list-subsys show is what
# the target was configured with: serial, model, subsystem NQN, namespace size and block size.
# timeout: 90
for s in OPEN RESTR; do
    nqn_v=${s}_NQN serial_v=${s}_SERIAL model_v=${s}_MODEL bytes_v=${s}_BYTES
    nqn=${!nqn_v} serial=${!serial_v} model=${!model_v} bytes=${!bytes_v}
    ctrl=$(connect "$nqn") || { bad "nvme connect to $nqn failed"; continue; }
    ok "connected to $nqn as $ctrl"
    dev=$(ns_dev "$ctrl" 1) || { bad "$nqn: no block device for namespace 1"; continue; }
    ok "$nqn namespace 1 is $dev"

    # Identify Controller, from the controller itself
    idc=$(nvme id-ctrl "/dev/$ctrl" -o json) || { bad "nvme id-ctrl /dev/$ctrl failed"; continue; }
    IFS=$'\t' read -r sn mn subnqn cntlid mdts <<< "$(echo "$idc" | jq -r '[.sn, .mn, .subnqn, .cntlid, .mdts] | @tsv')"
    trim sn; trim mn; trim subnqn
    expect_eq "$nqn id-ctrl sn" "$sn" "$serial"
    expect_eq "$nqn id-ctrl mn" "$mn" "$model"
    expect_eq "$nqn id-ctrl subnqn" "$subnqn" "$nqn"
    log "cntlid $cntlid mdts $mdts"
    # the kernel's view (it parsed the same Identify data)
    v=$(< /sys/class/nvme/$ctrl/serial); trim v; expect_eq "$nqn sysfs serial" "$v" "$serial"
    v=$(< /sys/class/nvme/$ctrl/model); trim v; expect_eq "$nqn sysfs model" "$v" "$model"
    expect_eq "$nqn sysfs transport" "$(< /sys/class/nvme/$ctrl/transport)" tcp

    # Identify Namespace: size in blocks and the block size of the format in use
    idn=$(nvme id-ns "$dev" -o json) || { bad "nvme id-ns $dev failed"; continue; }
    IFS=$'\t' read -r nsze ncap ds <<< "$(echo "$idn" | jq -r '[.nsze, .ncap, .lbafs[.flbas % 16].ds] | @tsv')"
    expect_eq "$nqn id-ns block size (2^lbads)" "$((1 << ds))" "$BLOCK_SIZE"
    expect_eq "$nqn id-ns nsze * block size" "$((nsze << ds))" "$bytes"
    expect_eq "$nqn id-ns ncap" "$ncap" "$nsze"
    expect_eq "$nqn block device size" "$(( $(< /sys/block/${dev#/dev/}/size) * 512 ))" "$bytes"
    expect_eq "$nqn logical block size" "$(< /sys/block/${dev#/dev/}/queue/logical_block_size)" "$BLOCK_SIZE"
done

# nvme list and list-subsys: the tools users run first
out=$(nvme list 2>&1); echo "$out"
for s in OPEN RESTR; do
    serial_v=${s}_SERIAL model_v=${s}_MODEL; serial=${!serial_v} model=${!model_v}
    if grep -E "^/dev/nvme[0-9]+n1 .*$serial +$model " <<< "$out" >/dev/null; then ok "nvme list shows $serial / $model"
    else bad "nvme list has no line with serial $serial and model '$model'"; fi
done
out=$(nvme list-subsys 2>&1); echo "$out"
for s in OPEN RESTR; do
    nqn_v=${s}_NQN; nqn=${!nqn_v}
    # the NQN, then (after other lines) a path over tcp to the target's address
    if awk -v n="$nqn" -v a="traddr=$TRADDR" '$0 ~ "NQN=" n "$" {f=1; next} /NQN=/ {f=0} f && /tcp/ && index($0, a) {found=1} END {exit !found}' <<< "$out"
    then ok "nvme list-subsys shows $nqn over tcp at $TRADDR"
    else bad "nvme list-subsys does not show $nqn with a tcp path to $TRADDR"; fi
done
