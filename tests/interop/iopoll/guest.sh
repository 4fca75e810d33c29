#!/bin/bash
# guest.sh - the dam-iopoll case; runs INSIDE the test guest (run-dam-iopoll.sh boots it with a
# QEMU-emulated NVMe controller). The nvme driver gets one poll queue, hnvmfd serves that
# namespace through a file backend with [pqm] dam_poll = yes, and a DAM tenant (DH-HMAC-CHAP,
# which DAM requires) writes and verifies through hnvmf-perf over loopback. Checked: the data,
# that the daemon found completions by polling (hnvmf_dam_get polled_ios), and that dam_poll =
# yes on a namespace that cannot poll (a RAM one) fails that I/O with the reason in the log.
#
# usage: guest.sh SHARE   (SHARE/env.sh holds KERNEL BUILD; SHARE is read-write)
# Writes "PASS dam-iopoll" / "FAIL dam-iopoll: why" / "SKIP dam-iopoll: why" to SHARE/results
# and the case's output to SHARE/logs/dam-iopoll.log.
SHARE=$1
set -a; . "$SHARE/env.sh"; set +a
RESULTS=$SHARE/results LOGS=$SHARE/logs
mkdir -p "$LOGS"; : > "$RESULTS"
W=/tmp/hnvmf-iopoll; mkdir -p "$W/tenants"
HNVMFD=$BUILD/target/hnvmfd CTL=$BUILD/tools/hnvmfctl PERF=$BUILD/tools/hnvmf-perf SOCK=$W/ctl.sock
NQN=nqn.2026-01.io.hnvmf:iopoll NQN_RAM=nqn.2026-01.io.hnvmf:iopoll-ram
HOSTNQN=nqn.2026-01.io.hnvmf.test:dam-iopoll
TO="timeout 120"

T0US=${EPOCHREALTIME/./}
log() { local d=$(( ${EPOCHREALTIME/./} - T0US )); printf '[%4d.%02d] %s\n' $((d / 1000000)) $(((d / 10000) % 100)) "$*"; }
run() { log "+ $*"; "$@"; local rc=$?; [ $rc -ne 0 ] && log "  -> exit status $rc"; return $rc; }
ok() { log "ok: $*"; echo "$*" >> "$W/ok"; }
bad() { log "FAILED: $*"; echo "$*" >> "$W/bad"; return 1; }
skip() { log "SKIP: $*"; echo "$*" > "$W/skip"; }
wait_for() { local i; for ((i = 0; i < $1; i++)); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
dam_num() { $CTL -s $SOCK --json dam | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"; }

case_dam_iopoll() {
    run modprobe nvme poll_queues=1 || { bad "modprobe nvme poll_queues=1 failed"; return; }
    wait_for 100 test -b /dev/nvme0n1 || { bad "no /dev/nvme0n1 from the emulated controller"; return; }
    local io_poll; io_poll=$(cat /sys/block/nvme0n1/queue/io_poll 2>/dev/null)
    log "nvme0n1: queue/io_poll=$io_poll, $(dmesg | grep -m1 -oE 'nvme0: [0-9]+/[0-9]+/[0-9]+ default/read/poll queues')"
    [ "$io_poll" = 1 ] || { skip "the guest's nvme0n1 does not poll (queue/io_poll '$io_poll') with poll_queues=1"; return; }

    local key; key=$(nvme gen-dhchap-key --hmac=1 --nqn="$HOSTNQN") && [ "${key#DHHC-1:}" != "$key" ] ||
        { bad "nvme gen-dhchap-key gave no key: '$key'"; return; }
    cat > "$W/tenants/dam.conf" <<EOT
[tenant]
hostnqn = $HOSTNQN
subsystems = $NQN, $NQN_RAM
mode = dam
permission_level = 1
dam_fallback = refuse
dhchap_secret = $key
EOT
    chmod 600 "$W/tenants/dam.conf"
    cat > "$W/hnvmf.conf" <<EOC
[global]
log_level = info
control_socket = $SOCK
dam_whitelist = 1
tenants_dir = $W/tenants

[pqm]
dam_poll = yes

[listener tcp]
address = 127.0.0.1
port = 4420

[backend nvme]
type = file
path = /dev/nvme0n1
direct = yes

[backend ram0]
type = ram
size = 16M

[subsystem $NQN]
allow_any_host = yes
namespace = 1:nvme

[subsystem $NQN_RAM]
allow_any_host = yes
namespace = 1:ram0
EOC
    cat "$W/hnvmf.conf"
    $HNVMFD -c "$W/hnvmf.conf" > "$LOGS/hnvmfd.log" 2>&1 & local dpid=$!
    wait_for 100 test -S $SOCK && kill -0 $dpid 2>/dev/null || { tail -5 "$LOGS/hnvmfd.log"; bad "hnvmfd did not start"; return; }

    # known at load: the RAM backend cannot poll, the NVMe namespace can
    grep -q "backend ram0: \[pqm\] dam_poll = yes, but a ram backend has no device queue to poll" "$LOGS/hnvmfd.log" &&
        ok "the load warned about the RAM backend" || bad "no load warning for the RAM backend"
    grep -q "backend nvme: \[pqm\] dam_poll" "$LOGS/hnvmfd.log" && bad "the load warned about the polling NVMe namespace"

    # DH-HMAC-CHAP without the DH step: both ends compute on emulated CPUs
    local conn=(-a 127.0.0.1 -s 4420 -q "$HOSTNQN" -S "$key" --dhchap-group null -i 2)
    if run $TO $PERF verify "${conn[@]}" -n $NQN -c 16384 -z 4k -Q 8 --seed 7; then
        ok "DAM tenant wrote 8 MiB to the polled namespace and read it back identical"
    else bad "hnvmf-perf verify on the polled namespace failed"; fi
    grep -q "DAM granted" "$LOGS/hnvmfd.log" && ok "its queues were granted DAM" || bad "no 'DAM granted' in the log"
    run $CTL -s $SOCK dam
    local polled; polled=$(dam_num polled_ios)
    [ "${polled:-0}" -gt 0 ] && ok "the daemon found $polled completions by polling (hnvmf_dam_get polled_ios)" ||
        bad "no completion found by polling (polled_ios '${polled}')"

    # dam_poll = yes where the backend cannot poll: the I/O fails, the log says why
    if run $TO $PERF write "${conn[@]}" -n $NQN_RAM --slba 0 -c 1 --pattern 0x5a; then
        bad "a write to a RAM namespace on a DAM queue succeeded with dam_poll = yes"
    else ok "a write to a RAM namespace on a DAM queue failed with dam_poll = yes"; fi
    grep -q "dam_poll = yes, but a ram backend has no device queue to poll" "$LOGS/hnvmfd.log" &&
        ok "the log says why" || bad "no 'dam_poll = yes, but a ram backend ...' in the log"

    kill -TERM $dpid; local i; for i in $(seq 100); do kill -0 $dpid 2>/dev/null || break; sleep 0.1; done
    kill -0 $dpid 2>/dev/null && { bad "hnvmfd still running 10 s after SIGTERM"; kill -KILL $dpid; }
    wait $dpid; local rc=$?; [ $rc = 0 ] && ok "hnvmfd exited with status 0" || bad "hnvmfd exit status $rc"
    local san; san=$(grep -m1 -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$LOGS/hnvmfd.log")
    [ -z "$san" ] || bad "sanitizer report: $san"
    grep -E '^<[0-3]>' "$LOGS/hnvmfd.log" | tail -5
}

t=$EPOCHSECONDS
case_dam_iopoll > "$LOGS/dam-iopoll.log" 2>&1
if [ -f "$W/skip" ]; then v="SKIP dam-iopoll: $(head -1 "$W/skip")"
elif [ -s "$W/bad" ]; then v="FAIL dam-iopoll: $(head -1 "$W/bad")"
elif [ ! -s "$W/ok" ]; then v="FAIL dam-iopoll: checked nothing"
else v="PASS dam-iopoll"; fi
echo "$v" >> "$RESULTS"; echo "interop-iopoll[$KERNEL] $v [$((EPOCHSECONDS - t))s]"
