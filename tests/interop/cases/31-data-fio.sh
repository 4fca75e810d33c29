# fio with crc32c verification: 4 KiB random writes from several jobs at queue depth, then
# 128 KiB sequential; every block is read back and checked. Sizes are small: the guest runs under
# TCG. fio exits non-zero on any I/O or verification error.
# timeout: 150
ctrl=$(connect "$OPEN_NQN" --nr-io-queues=2) || die "nvme connect to $OPEN_NQN failed"
dev=$(ns_dev "$ctrl" 1) || die "no block device for $OPEN_NQN namespace 1"
FIO=(fio --ioengine=libaio --direct=1 --filename="$dev" --verify=crc32c --do_verify=1
     --verify_fatal=1 --group_reporting --output-format=terse --terse-version=3)
# terse v3: field 5 = errors; we also keep fio's exit status
fio_case() {  # WHAT fio-args...
    local what=$1 out rc; shift
    out=$("${FIO[@]}" "$@" 2>&1); rc=$?
    echo "$out"
    if [ $rc -ne 0 ]; then bad "$what: fio exit status $rc: $(grep -m1 -iE 'verify|error|fail' <<< "$out")"
    elif [ "$(cut -d';' -f5 <<< "${out##*$'\n'}")" != 0 ]; then bad "$what: fio reports errors"
    else ok "$what"; fi
}
fio_case "4k random write+verify, 2 jobs x iodepth 16" --name=rand4k --rw=randwrite --bs=4k \
    --iodepth=16 --numjobs=2 --size=6M --offset_increment=64M
fio_case "4k random write+verify, iodepth 1" --name=rand4kqd1 --rw=randwrite --bs=4k \
    --iodepth=1 --size=1M --offset=200M
fio_case "128k sequential write+verify, 2 jobs x iodepth 8" --name=seq128k --rw=write --bs=128k \
    --iodepth=8 --numjobs=2 --size=16M --offset_increment=96M
fio_case "mixed 4k-256k random write+verify" --name=mixed --rw=randwrite --bsrange=4k-256k \
    --iodepth=8 --size=8M --offset=128M
