#!/bin/bash
# A fatal signal leaves a backtrace in hnvmfd's stderr and still kills the daemon with that
# signal (target/crash-report.c). In a sanitizer build the handler stays out of the way: the
# daemon must then die of the signal without our report (the sanitizer reports instead).
#   usage: tests/daemon/crash-report.sh path/to/hnvmfd SANITIZED(0|1)
set -u
HNVMFD=${1:?usage: $0 path/to/hnvmfd 0|1}
SANITIZED=${2:?usage: $0 path/to/hnvmfd 0|1}
dir=$(mktemp -d)
trap 'kill -KILL $pid 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "---- hnvmfd stderr:"; cat "$dir/err"; exit 1; }

port=$((20000 + $$ % 20000))
cat > "$dir/c.conf" <<CONF
[listener tcp]
address = 127.0.0.1
port = $port
discovery = no
[backend n0]
type = null
size = 16M
[subsystem nqn.2026-01.io.hnvmf:crash-report]
allow_any_host = yes
namespace = 1:n0
CONF
"$HNVMFD" -c "$dir/c.conf" 2> "$dir/err" &
pid=$!
for _ in $(seq 50); do grep -q ' ready ' "$dir/err" && break; sleep 0.1; done
grep -q ' ready ' "$dir/err" || fail "hnvmfd did not become ready"

kill -SEGV $pid
wait $pid
rc=$?
if [ "$SANITIZED" = 1 ]; then
	# ASan reports the SEGV itself and exits 1
	[ $rc -ne 0 ] || fail "exit status 0 after SIGSEGV"
	grep -q 'fatal signal' "$dir/err" && fail "the crash report ran in a sanitizer build"
	grep -q 'AddressSanitizer: SEGV' "$dir/err" || fail "no AddressSanitizer SEGV report"
else
	[ $rc -eq $((128 + 11)) ] || fail "exit status $rc, expected death by SIGSEGV (139)"
	grep -q '^<2>hnvmfd: fatal signal 11 (SEGV)' "$dir/err" || fail "no '<2>hnvmfd: fatal signal 11 (SEGV)' line"
	grep -A12 'fatal signal 11' "$dir/err" | grep -q '(main+0x' || fail "the backtrace does not reach main"
fi
echo "1 passed, 0 failed"
