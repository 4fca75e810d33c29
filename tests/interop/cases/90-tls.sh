# NVMe/TCP secure channel (TLS 1.3 with a configured PSK) with the Linux host: tlshd does the
# handshake for the kernel with the PSK that `nvme check-tls-key --insert` put in the .nvme
# keyring (the tenant's tls_psk, derived by nvme-cli into a retained PSK and TLS PSK identities:
# v1 for the subsystem, v0 for discovery); nvme discover --tls and nvme connect --tls to the
# `tls = yes` listener, data survives, and hnvmfd shows the TLS tenant's queues on DAM (TLS is
# what authenticates them) and logs every secured connection.
# timeout: 240
auth_case_prereqs
DISC_NQN=nqn.2014-08.org.nvmexpress.discovery
modprobe tls 2>/dev/null
printf '[debug]\nloglevel=1\ntls=0\nnl=0\n[authenticate]\nkeyrings=.nvme\n' > /tmp/tlshd.conf
"$TRIXIE_BIN/tlshd" -c /tmp/tlshd.conf -s > /tmp/tlshd.log 2>&1 &
tlshd_pid=$!
trap 'kill $tlshd_pid 2>/dev/null' EXIT
nap 1
kill -0 $tlshd_pid 2>/dev/null && ok "tlshd runs with keyrings=.nvme" || die "tlshd did not start: $(< /tmp/tlshd.log)"

ids=()
for x in "$TLS_NQN:1" "$DISC_NQN:0"; do
    out=$(nvme check-tls-key --keydata="$TLS_PSK" --hostnqn="$TLS_HOSTNQN" --subsysnqn="${x%:*}" \
        --identity="${x##*:}" --insert 2>&1); rc=$?
    log "nvme check-tls-key --identity=${x##*:} --subsysnqn=${x%:*} --insert -> $rc: $out"
    [ $rc -eq 0 ] && ok "the tenant's PSK is in the .nvme keyring for ${x%:*} (identity v${x##*:})" ||
        die "nvme check-tls-key --insert failed: $out"
done
log "keys: $(grep -E ' psk |\.nvme' /proc/keys | tr '\n' ';')"
grep -q "NVMe1R01 $TLS_HOSTNQN $TLS_NQN" /proc/keys && ok "a v1 identity for $TLS_NQN in the keyring" ||
    bad "no 'NVMe1R01 $TLS_HOSTNQN $TLS_NQN ...' key in /proc/keys"

mark=$(tgt log_mark)
hopts=(--hostnqn="$TLS_HOSTNQN" --hostid="$TLS_HOSTID")
out=$(nvme discover -t tcp -a "$TRADDR" -s "$TLS_PORT" --tls "${hopts[@]}" -o json 2>&1); rc=$?
log "nvme discover --tls -s $TLS_PORT -> $rc"; echo "$out"
if [ $rc -eq 0 ]; then
    ok "nvme discover --tls on port $TLS_PORT"
    recs=$(echo "$out" | jq -r '.records[] | [.subnqn, .sectype, .trsvcid] | @tsv')
    found=0
    while IFS=$'\t' read -r subnqn sectype trsvcid; do
        trim subnqn; trim sectype; trim trsvcid
        [ "$subnqn" = "$TLS_NQN" ] || continue
        found=1
        expect_eq "discovery entry $TLS_NQN sectype" "$sectype" tls13
        expect_eq "discovery entry $TLS_NQN trsvcid" "$trsvcid" "$TLS_PORT"
    done <<< "$recs"
    [ $found = 1 ] && ok "the discovery log lists $TLS_NQN" || bad "no discovery log entry for $TLS_NQN"
else bad "nvme discover --tls failed ($rc): ${out##*$'\n'}"; fi

ctrl=$(CONNECT_PORT=$TLS_PORT connect "$TLS_NQN" --tls "${hopts[@]}" --nr-io-queues=1) || {
    log "tlshd: $(tail -20 /tmp/tlshd.log)"; log "dmesg: $(dmesg | tail -20)"; log "target: $(tgt log_tail 20)"
    die "nvme connect --tls failed"; }
ok "nvme connect --tls to $TLS_NQN: $ctrl"
for a in tls_key tls_configured_key tls_keyring; do
    [ -e "/sys/class/nvme/$ctrl/$a" ] && log "host sysfs $a: $(< "/sys/class/nvme/$ctrl/$a")"
done
if dev=$(ns_dev "$ctrl" 1); then data_roundtrip "$dev" 0 "over TLS"
    check "4 KiB random I/O verified over TLS" fio --name=tls --ioengine=libaio --direct=1 --filename="$dev" \
        --rw=randwrite --bs=4k --iodepth=8 --size=1M --offset=16M --verify=crc32c --verify_fatal=1 --output-format=terse
else bad "no block device over TLS"; fi

st=$(tgt state); log "target state: ${st//$'\n'/;}"
[[ $st == *" TCP $TRADDR:$TLS_PORT tls"* ]] && ok "hnvmfctl subsystems shows the tls listener" ||
    bad "hnvmfctl subsystems has no 'listener NAME TCP $TRADDR:$TLS_PORT tls' line"
if line=$(target_ctrl_line "$TLS_HOSTNQN" "$TLS_NQN"); then
    [[ $line == *" q1:dam"* ]] && ok "the TLS tenant's I/O queue is on DAM: $line" ||
        bad "the TLS tenant's I/O queue is not on DAM: $line"
else bad "hnvmfctl controllers has no controller for $TLS_HOSTNQN on $TLS_NQN"; fi
n=$(tgt log_count "TLS secured .*host $TLS_HOSTNQN" "$mark")
[ "${n:-0}" -ge 3 ] && ok "the target logged $n TLS-secured connections for $TLS_HOSTNQN (discovery, admin, I/O)" ||
    bad "the target logged ${n:-0} TLS-secured connections for $TLS_HOSTNQN, expected at least 3"
target_matches_host
check "nvme disconnect" nvme disconnect -d "/dev/$ctrl"
target_matches_host
log "target: $(tgt log_tail 8 | tr '\n' ';')"
log "tlshd: $(tail -5 /tmp/tlshd.log | tr '\n' ';')"
