# --hdr-digest --data-digest: the host asks for the CRC32C digests in ICReq, the target must
# grant exactly that in ICResp (Linux refuses the connection on a mismatch: "header/data digest
# flag is cleared" / "digest support mismatch"), and every PDU then carries them, checked on both
# sides. Data must survive both ways.
# timeout: 120
run dd if=/dev/urandom of=/tmp/pat bs=1M count=4 status=none
for opts in "--hdr-digest --data-digest"; do
    # shellcheck disable=SC2086
    ctrl=$(connect "$OPEN_NQN" $opts) || { bad "connect with $opts failed"; continue; }
    ok "connected with $opts"
    dev=$(ns_dev "$ctrl" 1) || { bad "$opts: no block device"; continue; }
    dd if=/tmp/pat of="$dev" bs=128k oflag=direct status=none &&
        dd if="$dev" of=/tmp/back bs=1M count=4 iflag=direct status=none && cmp /tmp/pat /tmp/back &&
        ok "$opts: 4 MiB written and read back identical" || bad "$opts: data not identical or I/O failed"
    check "$opts: small random I/O verified" fio --name=d --ioengine=libaio --direct=1 --filename="$dev" \
        --rw=randwrite --bs=4k --iodepth=8 --size=1M --offset=32M --verify=crc32c --verify_fatal=1 --output-format=terse
    run nvme disconnect -n "$OPEN_NQN"
    dmesg | grep -iE 'digest' | tail -3
done
target_matches_host
rm -f /tmp/pat /tmp/back
