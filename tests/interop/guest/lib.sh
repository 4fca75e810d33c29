# lib.sh - helpers for interop cases. Sourced inside the guest by main.sh and by every case.
#
# A case is a bash script run in its own process with this file sourced. It reports through:
#   ok MSG          a check passed (goes to the case log only)
#   bad MSG         a check failed: recorded, the case goes on so the log shows everything
#   die MSG         a check failed and the case cannot go on: recorded, the case stops
#   skip MSG        the case cannot apply here (kernel, target kind, missing daemon feature)
# The verdict is PASS only when the case ran to its end (exit 0), reported no failure and at least
# one `ok`: a case that checks nothing cannot pass.
#
# Environment (written by the host-side runner into $SHARE/env.sh):
#   KERNEL (6.1|6.12)  NVME (nvme-cli binary)  TARGET_KIND (hnvmfd|nvmet)  TRADDR  IO_PORT
#   DISC_PORT  IO_PORTS (ports that serve I/O, space separated)  EXPECT_TREQ
#   OPEN_NQN OPEN_SERIAL OPEN_MODEL OPEN_BYTES    (subsystem that allows any host)
#   RESTR_NQN RESTR_SERIAL RESTR_MODEL RESTR_BYTES (subsystem that allows only listed hosts)
#   BLOCK_SIZE  ALLOWED_HOSTNQN ALLOWED_HOSTID  DENIED_HOSTNQN DENIED_HOSTID
#   SHARE (read-write folder shared with the host)  SUITE (copy of tests/interop)
# Set by main.sh for each case: CASE (its name), CASE_STATE (folder for its verdict files).

# Under TCG every exec costs a good fraction of a second (the binary and its libraries come over
# 9p), so the helpers use bash builtins only ($EPOCHREALTIME, arithmetic, parameter expansion).
T0US=${T0US:-${EPOCHREALTIME/./}}
log() {
    local d=$(( ${EPOCHREALTIME/./} - T0US ))
    printf '[%4d.%02d] %s\n' $((d / 1000000)) $(((d / 10000) % 100)) "$*" >&2   # stdout may be a result
}
# nap SECONDS: sleep without an exec (read with a timeout on a FIFO nobody writes)
if [ -z "${NAP_FD:-}" ]; then
    _nap=$(mktemp -u /tmp/hnvmf-nap.XXXXXX); mkfifo "$_nap"; exec {NAP_FD}<>"$_nap"; rm -f "$_nap"
fi
nap() { read -rt "$1" -u "$NAP_FD"; true; }
run() { log "+ $*"; "$@"; local rc=$?; [ $rc -ne 0 ] && log "  -> exit status $rc"; return $rc; }
ok() { log "ok: $*"; echo "$*" >> "$CASE_STATE/ok"; }
bad() { log "FAILED: $*"; echo "$*" >> "$CASE_STATE/bad"; return 1; }
die() { bad "$*"; exit 1; }
skip() { log "SKIP: $*"; echo "$*" > "$CASE_STATE/skip"; exit 0; }

# check DESCRIPTION CMD...: run CMD (output to the log); ok when it succeeds, bad otherwise
check() { local what=$1; shift; if run "$@"; then ok "$what"; else bad "$what (command failed: $*)"; fi; }
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1 = '$3'"; else bad "$1: got '$2', expected '$3'"; fi
}
# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds
wait_for() {
    local end=$(( ${EPOCHREALTIME/./} + $1 * 1000000 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "${EPOCHREALTIME/./}" -gt "$end" ] && return 1
        nap 0.2
    done
}
# trim VAR: strip leading/trailing blanks of variable VAR in place (nvme-cli pads fields)
trim() {
    local -n _v=$1
    _v=${_v#"${_v%%[![:space:]]*}"}; _v=${_v%"${_v##*[![:space:]]}"}
}

# The nvme-cli that goes with this kernel (bookworm's 2.3 with 6.1, trixie's 2.13 with 6.12).
# Trixie's is run straight through its own loader (NVME_LD), skipping the wrapper script's execs.
nvme() {
    if [ -n "${NVME_LD:-}" ]; then "$NVME_LD" --library-path "$NVME_LIBPATH" "$NVME_REAL" "$@"
    else "$NVME" "$@"; fi
}

# kernel_at_least 6.12
kernel_at_least() { [ "$(printf '%s\n%s\n' "$1" "$KERNEL" | sort -V | head -1)" = "$1" ]; }

# ------------------------------------------------------------------ host-side controllers
# ctrls_for NQN: the host's controllers (nvmeN) connected to subsystem NQN at the target
ctrls_for() {
    local c
    for c in /sys/class/nvme/nvme*; do
        [ -e "$c/subsysnqn" ] || continue
        [ "$(< "$c/subsysnqn")" = "$1" ] || continue
        [[ $(< "$c/address") == *"traddr=$TRADDR,"* ]] || continue
        echo "${c##*/}"
    done
}
ctrl_state() { [ -e "/sys/class/nvme/$1/state" ] && echo "$(< "/sys/class/nvme/$1/state")"; }
# host_ctrl_count: every fabrics controller the host still has towards the target
host_ctrl_count() { grep -l "traddr=$TRADDR," /sys/class/nvme/nvme*/address 2>/dev/null | wc -l; }

# connect NQN [nvme connect options]: connect over TCP to TRADDR:IO_PORT (CONNECT_PORT when
# set: the TLS listener), wait until the new
# controller is live and print its name (nvmeN). Returns 1 (with nvme-cli's message logged)
# when the connection fails.
connect() {
    local nqn=$1; shift
    local before c out rc i
    before=" $(ctrls_for "$nqn" | tr '\n' ' ') "
    out=$(nvme connect -t tcp -a "$TRADDR" -s "${CONNECT_PORT:-$IO_PORT}" -n "$nqn" "$@" 2>&1); rc=$?
    log "+ nvme connect -t tcp -a $TRADDR -s ${CONNECT_PORT:-$IO_PORT} -n $nqn $* -> status $rc${out:+: $out}"
    [ $rc -eq 0 ] || return 1
    for i in $(seq 50); do
        for c in $(ctrls_for "$nqn"); do
            [[ $before == *" $c "* ]] && continue
            [ "$(ctrl_state "$c")" = live ] && { echo "$c"; return 0; }
        done
        nap 0.1
    done
    log "connect: no live controller for $nqn appeared"; return 1
}

# ns_dev CTRL NSID [SECONDS]: the block device (/dev/nvmeXnY) of namespace NSID reached through
# controller CTRL; with native multipath (Debian's default) that is the subsystem's head node.
ns_dev_now() {
    local ctrl=$1 nsid=$2 s b
    for s in /sys/class/nvme-subsystem/nvme-subsys*; do
        [ -e "$s/$ctrl" ] || continue
        for b in "$s"/nvme*n*; do
            b=${b##*/}; [[ $b =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
            [ -e "/sys/block/$b/nsid" ] && [ "$(< "/sys/block/$b/nsid")" = "$nsid" ] && [ -b "/dev/$b" ] && { echo "/dev/$b"; return 0; }
        done
    done
    for b in /sys/class/nvme/"$ctrl"/"$ctrl"n*; do          # multipath disabled
        b=${b##*/}
        [ -e "/sys/block/$b/nsid" ] && [ "$(< "/sys/block/$b/nsid")" = "$nsid" ] && [ -b "/dev/$b" ] && { echo "/dev/$b"; return 0; }
    done
    return 1
}
ns_dev() { local i; for i in $(seq $(( ${3:-10} * 5 ))); do ns_dev_now "$1" "$2" && return 0; nap 0.2; done; return 1; }

# host_queue_total: queues (admin + I/O) of every host controller towards the target; with
# NVMe/TCP each queue is one TCP connection, so the target must hold exactly that many
host_queue_total() {
    local c n=0
    for c in /sys/class/nvme/nvme*; do
        [ -e "$c/address" ] && [[ $(< "$c/address") == *"traddr=$TRADDR,"* ]] || continue
        [ "$(< "$c/state")" = live ] || continue
        n=$((n + $(< "$c/queue_count")))
    done
    echo $n
}

# target_matches_host [SECONDS]: the target holds what the host holds and nothing more: as many
# TCP connections as the host has queues and, where the target can count them (hnvmfd), as many
# controllers as the host has. Waits up to SECONDS (default 10) for teardown to finish.
target_matches_host() {
    local end=$(( EPOCHSECONDS + ${1:-10} )) hq hc tc tq rc
    while :; do
        hq=$(host_queue_total); hc=$(host_ctrl_count)
        tq=$(tgt conn_count)
        if [ "$TARGET_KIND" = nvmet ]; then tc=$hc rc=0; else tc=$(tgt ctrl_count); rc=$?; fi
        if [ $rc -eq 0 ] && [ "$tq" = "$hq" ] && [ "$tc" = "$hc" ]; then
            ok "target holds $tc controllers / $tq connections, as the host does"; return 0
        fi
        if [ "$EPOCHSECONDS" -ge "$end" ]; then
            bad "target holds ${tc:-?} controllers (rc $rc) / $tq connections; the host has $hc controllers / $hq queues"
            log "target state: $(tgt state 2>&1 | tr '\n' ';')"
            return 1
        fi
        nap 0.5
    done
}

no_host_ctrls() { [ "$(host_ctrl_count)" = 0 ]; }
disconnect_all() { nvme disconnect-all >/dev/null 2>&1; wait_for 10 no_host_ctrls; }

# ------------------------------------------------------------------ the target's side
# tgt CMD [ARGS]: ask the target side. With hnvmfd, the host-side runner answers through files in
# the shared folder (it owns the daemon, its log and its network namespace); with the kernel
# stand-in (nvmet in this guest), tgt_CMD functions from standin-nvmet.sh answer locally.
#   ctrl_count          live controllers on the target; exit 2 when the target cannot tell
#   conn_count          established TCP connections on the target's listening ports
#   log_mark            a position in the target's log (for log_count's FROM)
#   log_count REGEX [FROM]  lines of the target's log matching REGEX (extended regex), from FROM on
#   log_tail N          the last N lines of the target's log
#   alive               exit 0 while the target process runs
#   ns_add NQN NSID MIB add a namespace at run time; exit 3 when the target cannot
#   ns_resize NSID MIB  grow a namespace ns_add made (hnvmfd only, as the four below)
#   ns_remove NQN NSID  remove a namespace ns_add made
#   host_remove NQN HOSTNQN   remove a "host =" of a subsystem
#   listener_add NAME PORT NQN  a new NVMe/TCP listener, NQN exported on it
#   state               the target's own description of its controllers (diagnostics)
tgt() {
    if [ "$TARGET_KIND" = nvmet ]; then "tgt_$@"; return; fi
    local id req resp rc i
    id=${EPOCHREALTIME/./}-$$-$RANDOM
    req=$SHARE/rpc/$id.req resp=$SHARE/rpc/$id.resp
    printf '%s\0' "$@" > "$req.tmp" && mv "$req.tmp" "$req"
    for i in $(seq 600); do                      # up to 60 s
        if [ -f "$resp" ]; then
            rc=$(head -1 "$resp"); tail -n +2 "$resp"; rm -f "$resp"; return "$rc"
        fi
        nap 0.1
    done
    rm -f "$req"; echo "tgt: no answer from the host side for: $*" >&2; return 124
}
# wait_target_ctrls N SECONDS: wait until the target reports exactly N controllers.
# Returns 2 when the target cannot report controllers at all.
wait_target_ctrls() {
    local want=$1 secs=$2 n rc end
    end=$(( EPOCHSECONDS + secs ))
    while :; do
        n=$(tgt ctrl_count); rc=$?
        [ $rc -eq 2 ] && { log "target cannot report controllers: $n"; return 2; }
        [ $rc -eq 0 ] && [ "$n" = "$want" ] && return 0
        [ "$EPOCHSECONDS" -ge "$end" ] && { log "target reports ${n:-?} controllers (rc $rc), wanted $want"; return 1; }
        nap 0.5
    done
}

# net_cut / net_restore: make the target unreachable without telling anyone (the fault case).
# With the host-side target the guest's NIC goes down; with the in-guest stand-in the traffic
# runs over loopback, so nftables drops the target's ports instead.
net_cut() {
    if [ "$TARGET_KIND" = nvmet ]; then
        nft add table inet hnvmf_fault &&
        nft add chain inet hnvmf_fault in '{ type filter hook input priority -10 ; }' &&
        nft add rule inet hnvmf_fault in tcp dport "{ $(echo $IO_PORTS | tr ' ' ,) }" drop &&
        nft add rule inet hnvmf_fault in tcp sport "{ $(echo $IO_PORTS | tr ' ' ,) }" drop
    else
        ip link set eth0 down
    fi
}
net_restore() {
    if [ "$TARGET_KIND" = nvmet ]; then nft delete table inet hnvmf_fault 2>/dev/null; true
    else ip link set eth0 up && wait_for 10 ping -c1 -W1 "$TRADDR"; fi
}
net_is_cut() {
    if [ "$TARGET_KIND" = nvmet ]; then nft list table inet hnvmf_fault >/dev/null 2>&1
    else [[ $(< /sys/class/net/eth0/operstate) != up ]]; fi
}

# ------------------------------------------------------------------ DH-HMAC-CHAP and TLS (6.12)
# auth_case_prereqs: skip unless this run can do in-band authentication and TLS with hnvmfd, then
# load the tenants' secrets (AUTH_<TENANT>_{HOSTNQN,HOSTID,KEY,CKEY,MODE}, TLS_{HOSTNQN,HOSTID,PSK})
# that the host side made for this run (lib/target-hnvmfd.sh).
auth_case_prereqs() {
    kernel_at_least 6.12 || skip "needs kernel 6.12: Debian's $KERNEL has no NVMe in-band authentication or TLS, and its nvme-cli 2.3 no --tls"
    [ "$TARGET_KIND" = hnvmfd ] || skip "the tenants (secrets, TLS PSK) are hnvmfd's configuration; the nvmet stand-in has none"
    [ -r "$SHARE/auth.env" ] || skip "no tenant secrets in $SHARE/auth.env (trixie's nvme-cli was not there to make them)"
    . "$SHARE/auth.env"
}
# target_ctrl_line HOSTNQN SUBNQN: hnvmfd's `hnvmfctl controllers` row of that host's controller
# on SUBNQN: "CNTLID SUBSYSTEM HOST PEER KATO QUEUES"
target_ctrl_line() {
    local st l; st=$(tgt state) || return 1
    while IFS= read -r l; do
        local id sub host rest
        read -r id sub host rest <<< "$l"
        [[ $sub == "$2" && $host == "$1" ]] && { echo "$l"; return 0; }
    done <<< "$st"
    return 1
}
# target_queue_line CTRL_LINE QID: hnvmfd's `hnvmfctl qpairs` row of that controller's I/O queue
# QID: "CNTLID QID SIZE PEER LISTENER REACTOR IOS HOPS PATH" (where it runs, and the thread
# hand-offs its ios took)
target_queue_line() {
    local st l c=${1%% *}
    st=$(tgt state) || return 1
    while IFS= read -r l; do
        local cid qid rest
        read -r cid qid rest <<< "$l"
        [[ $cid == "$c" && $qid == "$2" && $rest == *" hnvmf-"* ]] && { echo "$l"; return 0; }
    done <<< "$st"
    return 1
}
# data_roundtrip DEV SEEK_MIB WHAT: 2 MiB of random data written with O_DIRECT at SEEK_MIB, read
# back and compared
data_roundtrip() {
    local dev=$1 at=$2 what=$3
    dd if=/dev/urandom of=/tmp/rt-pat bs=1M count=2 status=none &&
        dd if=/tmp/rt-pat of="$dev" bs=1M seek="$at" oflag=direct status=none &&
        dd if="$dev" of=/tmp/rt-back bs=1M skip="$at" count=2 iflag=direct status=none &&
        cmp /tmp/rt-pat /tmp/rt-back && ok "$what: 2 MiB written and read back identical" ||
        bad "$what: data not identical or I/O failed"
    rm -f /tmp/rt-pat /tmp/rt-back
}
# auth_warm_up: the first DH-HMAC-CHAP exchange of a boot makes the guest kernel load and
# self-test its DH and HMAC code (dh_generic, ffdhe8192, hmac(sha512)), which under TCG takes
# longer than the KATO (5 s) that bounds each authentication step on the target, so the
# target rightly drops the queue and the host waits out its 60 s admin timeout. One exchange
# with a long KATO first, once per boot, so the measured connections and the 5 s refusal limits
# are about the protocol, not about module loading in an emulated CPU.
auth_warm_up() {
    [ -e /tmp/hnvmf-auth-warm ] && return 0
    local t0 ms c
    t0=${EPOCHREALTIME/./}
    c=$(connect "$AUTH_NQN" --hostnqn="$AUTH_DAM256_HOSTNQN" --hostid="$AUTH_DAM256_HOSTID" \
        --nr-io-queues=1 --keep-alive-tmo=60 --dhchap-secret="$AUTH_DAM256_KEY") || { bad "warm-up: the first DH-HMAC-CHAP connection failed"; return 1; }
    ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
    log "warm-up: first DH-HMAC-CHAP connection of this boot took $ms ms; kernel modules: $(grep -oE '^(dh_generic|ffdhe_helper|nvme_auth|hkdf)' /proc/modules | tr '\n' ' ')"
    nvme disconnect -d "/dev/$c" >/dev/null 2>&1
    wait_for 10 no_host_ctrls
    : > /tmp/hnvmf-auth-warm
}
