# DH-HMAC-CHAP refusals: a tenant that must authenticate connects with no secret, with a wrong
# secret, and with the right secret but a wrong controller secret (the host catches the
# controller). Each nvme connect fails within 5 s, leaves nothing connected on either side, and
# the target's log names the host NQN.
# timeout: 150
auth_case_prereqs
auth_warm_up || die "cannot warm up the host's DH-HMAC-CHAP code"
wrong_key=$(nvme gen-dhchap-key --nqn="$AUTH_DAM256_HOSTNQN" --hmac=1) || die "nvme gen-dhchap-key failed"
wrong_ckey=$(nvme gen-dhchap-key --nqn="$AUTH_NQN" --hmac=2) || die "nvme gen-dhchap-key failed"
dmesg -C
refused() {  # WHAT HOSTNQN TARGET_LOG_REGEX KERNEL_LOG_REGEX nvme-connect-options...
    local what=$1 nqn=$2 re=$3 kre=$4; shift 4
    local mark t0 ms out rc n
    mark=$(tgt log_mark); dmesg -C
    t0=${EPOCHREALTIME/./}
    out=$(nvme connect -t tcp -a "$TRADDR" -s "$IO_PORT" -n "$AUTH_NQN" --hostnqn="$nqn" --hostid="${nqn##*uuid:}" \
        --nr-io-queues=1 "$@" 2>&1); rc=$?
    ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
    log "$what: nvme connect -> status $rc after $ms ms: $out"
    if [ $rc -ne 0 ]; then ok "$what: nvme connect fails (status $rc): ${out//$'\n'/ | }"
    else bad "$what: nvme connect succeeded"; run nvme disconnect -n "$AUTH_NQN"; fi
    [ $ms -le 5000 ] && ok "$what: refused in $ms ms (limit 5000)" || bad "$what: took $ms ms to fail (limit 5000)"
    [ -z "$(ctrls_for "$AUTH_NQN")" ] && ok "$what: the host has no $AUTH_NQN controller" ||
        bad "$what: the host still has a $AUTH_NQN controller"
    target_matches_host
    n=$(tgt log_count "host $nqn.*$re|$re.*host $nqn" "$mark")
    if [ "${n:-0}" -ge 1 ]; then ok "$what: the target logged it with the host NQN (/$re/)"
    else bad "$what: no line naming $nqn and matching /$re/ in the target's log"; fi
    log "target log: $(tgt log_tail 6 | tr '\n' ';')"
    local kmsg; kmsg=$(dmesg | grep -E 'nvme' | tail -5); log "kernel: ${kmsg//$'\n'/ | }"
    grep -qE -- "$kre" <<< "$kmsg" && ok "$what: the host kernel says why: $(grep -m1 -E -- "$kre" <<< "$kmsg")" ||
        bad "$what: the host kernel does not say /$kre/"
}
# no secret: the target asks for authentication (ATR) at Connect, the host has nothing to answer with
# (the target's only line naming the host is the Connect's; the host gives up at once)
refused "no secret" "$AUTH_DAM256_HOSTNQN" 'ctrl [0-9]+ created' 'qid 0: no key'
# the target refuses the host's response (Failure1)
refused "wrong secret" "$AUTH_DAM256_HOSTNQN" 'DH-HMAC-CHAP transaction [0-9]+ failed' 'qid 0: authentication failed' \
    --dhchap-secret="$wrong_key"
# the host refuses the controller's response and abandons the transaction (Failure2)
refused "wrong controller secret" "$AUTH_PQM384_HOSTNQN" 'abandoned DH-HMAC-CHAP' 'qid 0: controller authentication failed' \
    --dhchap-secret="$AUTH_PQM384_KEY" --dhchap-ctrl-secret="$wrong_ckey"
