# Fault: the network disappears under running I/O without a word to the target. The target
# must notice by itself (keep-alive timeout), free the controller, and serve the host again once
# the network is back: the kernel host reconnects on its own, and a fresh connection works.
# With hnvmfd the guest's NIC goes down; with the in-guest stand-in nftables drops the traffic.
# timeout: 180
# kernel-errors: allowed (queued I/O may time out and be retried while the network is gone)
KATO=5
ctrl=$(connect "$OPEN_NQN" --keep-alive-tmo=$KATO --reconnect-delay=2 --ctrl-loss-tmo=120) ||
    die "connect to $OPEN_NQN failed"
dev=$(ns_dev "$ctrl" 1) || die "no block device"
target_matches_host || die "target does not match the host before the fault"
timeout 120 fio --name=bg --ioengine=libaio --direct=1 --filename="$dev" --rw=randrw --bs=4k \
    --iodepth=8 --size=32M --time_based --runtime=100 --output=/tmp/fio-bg.log >/dev/null 2>&1 &
fio_pid=$!
nap 3
kill -0 $fio_pid 2>/dev/null && ok "I/O running when the network goes" || bad "fio did not run"

mark=$(tgt log_mark)
net_cut || die "cannot cut the network"
t_cut=$EPOCHSECONDS
log "network cut; waiting for the target to drop the controller (KATO ${KATO} s)"
if wait_target_ctrls 0 40; then
    ok "the target freed the controller $(( EPOCHSECONDS - t_cut )) s after the network went (KATO ${KATO} s)"
else
    bad "the target still holds a controller 40 s after the network went (KATO ${KATO} s)"
fi
if [ "$TARGET_KIND" = hnvmfd ]; then
    log "hnvmfd log: $(tgt log_tail 8 | tr '\n' ';')"
    n=$(tgt log_count 'keep-alive.*tearing down' "$mark")
    [ "${n:-0}" -ge 1 ] && ok "hnvmfd logged a keep-alive timeout" || bad "no 'keep-alive ... tearing down' line in hnvmfd's log after the cut"
fi
[ "$(tgt conn_count)" = 0 ] && ok "the target holds no connection" || bad "the target still holds $(tgt conn_count) connections"

net_restore || bad "network did not come back"
log "network back; waiting for the host to reconnect by itself"
reconnected() { [ "$(ctrl_state "$ctrl")" = live ] && [ "$(tgt conn_count)" -gt 0 ]; }
if wait_for 90 reconnected; then
    ok "the host reconnected $(( EPOCHSECONDS - t_cut )) s after the cut"
else
    bad "the host did not reconnect: controller $ctrl is '$(ctrl_state "$ctrl")'"
fi
kill $fio_pid 2>/dev/null; wait $fio_pid; log "fio: $(grep -E 'err=' /tmp/fio-bg.log | head -2)"
run nvme disconnect-all
target_matches_host

# and a brand-new connection is served normally
ctrl=$(connect "$OPEN_NQN") || die "a new connection after the fault failed"
dev=$(ns_dev "$ctrl" 1) || die "no block device on the new connection"
check "I/O with verify on a new connection after the fault" fio --name=after --ioengine=libaio --direct=1 \
    --filename="$dev" --rw=randwrite --bs=4k --iodepth=8 --size=2M --offset=64M --verify=crc32c \
    --verify_fatal=1 --output-format=terse
run nvme disconnect-all
target_matches_host
