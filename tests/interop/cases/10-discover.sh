# nvme discover through the discovery listener and through the I/O listener: every configured
# subsystem is listed, with the transport fields a host needs to connect to it.
# timeout: 60
for port in $DISC_PORT $IO_PORT; do
    out=$(nvme discover -t tcp -a "$TRADDR" -s "$port" -o json 2>&1); rc=$?
    log "nvme discover -s $port -o json -> $rc"; echo "$out"
    [ $rc -eq 0 ] || { bad "nvme discover on port $port failed ($rc): ${out##*$'\n'}"; continue; }
    # one jq for everything (each exec is slow under TCG): NQN, then the fields, tab-separated
    recs=$(echo "$out" | jq -r '.records[] | [.subnqn, .trtype, .adrfam, .subtype, .traddr,
                                              .sectype, .trsvcid, .treq] | @tsv') ||
        { bad "port $port: the output is not the expected JSON"; continue; }
    for nqn in "$OPEN_NQN" "$RESTR_NQN"; do
        n=0
        while IFS=$'\t' read -r subnqn trtype adrfam subtype traddr sectype trsvcid treq; do
            trim subnqn; [ "$subnqn" = "$nqn" ] || continue
            n=$((n + 1)); p="port $port entry $nqn"
            for v in trtype adrfam subtype traddr sectype trsvcid treq; do trim $v; done
            expect_eq "$p trtype" "$trtype" tcp
            expect_eq "$p adrfam" "$adrfam" ipv4
            expect_eq "$p subtype" "$subtype" "nvme subsystem"
            expect_eq "$p traddr" "$traddr" "$TRADDR"
            expect_eq "$p sectype" "$sectype" none
            if [[ " $IO_PORTS " == *" $trsvcid "* ]]; then ok "$p trsvcid $trsvcid is an I/O port"
            else bad "$p: trsvcid '$trsvcid' is not an I/O port ($IO_PORTS)"; fi
            if [[ $treq == "$EXPECT_TREQ"* ]]; then ok "$p treq '$treq'"
            else bad "$p: treq '$treq', expected '$EXPECT_TREQ'"; fi
        done <<< "$recs"
        [ $n -gt 0 ] && ok "port $port lists $nqn ($n entries)" || bad "port $port: no discovery log entry for $nqn"
    done
done
# the human-readable form too: it is what users read
out=$(nvme discover -t tcp -a "$TRADDR" -s "$DISC_PORT" 2>&1)
echo "$out"
if [[ $out =~ subnqn:\ +$OPEN_NQN ]] && [[ $out =~ subnqn:\ +$RESTR_NQN ]]; then ok "plain output names both subsystems"
else bad "plain 'nvme discover' output does not name both subsystems"; fi
