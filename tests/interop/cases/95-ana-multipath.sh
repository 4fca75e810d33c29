# Two gateways of one subsystem over one shared file (docs/ana.md): the host discovers through
# gateway 1 and follows its referral to gateway 2 (nvme connect-all), native multipath makes one
# subsystem with two paths and one block device, each path with the state its gateway reports
# (group 1: optimized through gateway 1, inaccessible through gateway 2), controller IDs from
# each gateway's own range, and I/O through the multipath device works.
# timeout: 150
[ "$TARGET_KIND" = hnvmfd ] || skip "needs hnvmfd gateways (the nvmet stand-in has no second gateway)"
[ "$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null)" = Y ] || skip "native NVMe multipath is off in this kernel"
out=$(tgt gw_start 1 optimized) || die "gateway 1 did not start: $out"
out=$(tgt gw_start 2 inaccessible) || { tgt gw_stop 1; die "gateway 2 did not start: $out"; }
ok "gateways 1 and 2 serve $ANA_NQN"

two_paths() { [ "$(ctrls_for "$ANA_NQN" | wc -l)" = 2 ]; }
run nvme connect-all -t tcp -a "$TRADDR" -s "$GW1_DISC_PORT"
if wait_for 20 two_paths; then ok "nvme connect-all through gateway 1 connected to both gateways (the referral was followed)"
else bad "after connect-all the host has $(ctrls_for "$ANA_NQN" | wc -l) controllers to $ANA_NQN, wanted 2"; fi

declare -A want=([$GW1_IO_PORT]=optimized [$GW2_IO_PORT]=inaccessible)
declare -A lo=([$GW1_IO_PORT]=1000 [$GW2_IO_PORT]=2000)
for c in $(ctrls_for "$ANA_NQN"); do
    addr=$(< /sys/class/nvme/$c/address); port=${addr##*trsvcid=}; port=${port%%,*}
    [ -n "${want[$port]:-}" ] || { bad "$c: unexpected port $port ($addr)"; continue; }
    id=$(< /sys/class/nvme/$c/cntlid)
    [ "$id" -ge "${lo[$port]}" ] && [ "$id" -le $((lo[$port] + 999)) ] &&
        ok "$c (port $port): cntlid $id in the gateway's range" || bad "$c (port $port): cntlid $id outside ${lo[$port]}..$((lo[$port] + 999))"
    # the path device's state, as the kernel parsed it from the ANA log page
    st=$(cat /sys/class/nvme/$c/nvme*c*n1/ana_state 2>/dev/null | head -1)
    expect_eq "$c (port $port) path ANA state" "$st" "${want[$port]}"
    out=$(nvme ana-log "/dev/$c" 2>&1); log "nvme ana-log /dev/$c: $(tr '\n' ' ' <<< "$out")"
    [[ $out == *"${want[$port]}"* ]] && ok "nvme ana-log through port $port reports ${want[$port]}" ||
        bad "nvme ana-log through port $port does not say ${want[$port]}"
done
out=$(nvme list-subsys 2>&1); echo "$out"
n=$(awk -v n="$ANA_NQN" '$0 ~ "NQN=" n "$" {f=1; next} /NQN=/ {f=0} f && /tcp/ {k++} END {print k + 0}' <<< "$out")
expect_eq "paths nvme list-subsys shows under $ANA_NQN" "$n" 2

c1=$(ctrls_for "$ANA_NQN" | head -1)
if [ -n "$c1" ] && dev=$(ns_dev "$c1" 1); then
    ok "one multipath block device $dev for namespace 1"
    expect_eq "multipath device size" "$(( $(< /sys/block/${dev#/dev/}/size) * 512 ))" "$ANA_BYTES"
    run dd if=/dev/urandom of=/tmp/ana.p bs=1M count=2 status=none
    dd if=/tmp/ana.p of="$dev" bs=1M oflag=direct status=none && dd if="$dev" of=/tmp/ana.b bs=1M count=2 iflag=direct status=none &&
        cmp /tmp/ana.p /tmp/ana.b && ok "I/O through the multipath device (the optimized path)" || bad "I/O through $dev failed"
else
    bad "no block device for namespace 1 of $ANA_NQN"
fi

run nvme disconnect -n "$ANA_NQN" >/dev/null
for c in $(ctrls_for nqn.2014-08.org.nvmexpress.discovery); do run nvme disconnect -d "$c" >/dev/null; done
out=$(tgt gw_stop 1) || bad "gateway 1: $out"
out=$(tgt gw_stop 2) || bad "gateway 2: $out"
