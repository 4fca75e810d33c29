#!/bin/bash
# The PQM pool's size c under a stepped load over NVMe/TCP on loopback (issue 13; what
# `bench_paths --trace` shows in-process): the offered load steps up and down (STEPS, tenants per
# step: 1, 4, 16, 4, 1 by default), each step one hnvmf-perf run of SECS with that many tenants
# (QUEUES x QD each, 4 KiB random read, closed loop; RATE=N makes each tenant an open loop of N
# IOPS), on the file backend (prefilled, O_DIRECT) by default. Meanwhile the control socket's `pqm`
# is sampled every SAMPLE seconds: the pool's c and the λ (arrivals per second) of its last epoch.
# Prints a row per step (IOPS, p50/p99, c per sample) and the trace: time, step, offered load,
# c, λ, for every sample where c changed and at least one a second. Never fails on timing.
#
#   bench/pqm-trace-bench.sh [BUILD_DIR]          (default: build)
#   SECS=10 SHORT=1 TARGET_CPU=0 INIT_CPU=1 FILE FILE_MIB PORT=14444 CMAX=4   bench/lib-tcp.sh
#   STEPS="1 4 16 4 1" BACKEND=file QUEUES=2 QD=16 RATE=0 SAMPLE=0.25 EPOCH_MS=100
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib-tcp.sh
. "$(dirname "$0")/lib-tcp.sh"
tcp_init pqm-trace-bench "${1:-build}" 14444 4
STEPS=${STEPS:-1 4 16 4 1}
BACKEND=${BACKEND:-file}
check_names backend "$BACKEND" null file
QUEUES=${QUEUES:-2}
QD=${QD:-16}
RATE=${RATE:-0}
SAMPLE=${SAMPLE:-0.25}
EPOCH_MS=${EPOCH_MS:-100}
[ "$BACKEND" = file ] && prefill_file

maxt=0
for n in $STEPS; do [ "$n" -gt "$maxt" ] && maxt=$n; done
reset_tenants
for i in $(seq "$maxt"); do tenant "$i" pqm; done
start_daemon pqm "epoch_ms=$EPOCH_MS"

tcp_header
echo "# backend $BACKEND (nsid $(nsid "$BACKEND")); steps of $SECS s, tenants per step: $STEPS"
echo "# each tenant (mode = pqm): $QUEUES I/O queue(s) x QD $QD, 4 KiB random read, $([ "$RATE" = 0 ] && echo "closed loop" || echo "open loop at $RATE IOPS")"
echo "# PQM cmax $CMAX, epoch $EPOCH_MS ms, [pqm] fair = yes; pqm sampled every $SAMPLE s through the control socket"
echo
echo "# steps (t: seconds since the sampling started; c per sample, in order)"
printf "%-4s %7s %-13s %9s %9s %9s %6s  %s\n" step tenants "t(s)" IOPS "p50(us)" "p99(us)" errors "c per sample"
: > "$dir/samples"
pqm_sampler "$dir/samples" "$SAMPLE"
# The steps back to back (the rows are printed after the last, so that nothing runs between them
# but hnvmf-perf's connect and shutdown).
k=0
for n in $STEPS; do
	k=$((k + 1))
	hosts=()
	for i in $(seq "$n"); do hosts+=(-H "$(host "$i")"); done
	rargs=()
	[ "$RATE" != 0 ] && rargs=(--rate $((RATE * n)))
	echo "step $k $n $(since "$sampler_t0")" >> "$dir/samples"
	perf_json -N "$(nsid "$BACKEND")" --workload randread -z 4k -Q "$QD" --queues "$QUEUES" \
		--connections "$n" "${hosts[@]}" "${rargs[@]}" --time "$SECS" > "$dir/step$k.json"
	echo "end $k $n $(since "$sampler_t0")" >> "$dir/samples"
done
sleep 1
stop_bg
ctl pqm > "$dir/final"
k=0
for n in $STEPS; do
	k=$((k + 1))
	read -r a b <<< "$(awk -v k="$k" '$1 == "step" && $2 == k { a = $4 } $1 == "end" && $2 == k { b = $4 }
		END { print a, b }' "$dir/samples")"
	cs=$(awk -v a="$a" -v b="$b" '$1 != "step" && $1 != "end" && $1 >= a && $1 <= b { s = s $2 } END { print s }' \
		"$dir/samples")
	if f=$(jfields "$(tail -1 "$dir/step$k.json")" iops lat_us.p50 lat_us.p99 errors); then
		read -r iops p50 p99 errs <<< "$f"
		printf "%-4s %7s %-13s %9.0f %9.1f %9.1f %6s  %s\n" "$k" "$n" "$a-$b" "$iops" "$p50" "$p99" "$errs" "$cs"
	else
		printf "%-4s %7s %-13s   %s  %s\n" "$k" "$n" "$a-$b" "$f" "$cs"
	fi
done
echo
echo "# trace: samples of pqm where c changed, and at least one a second; offered: $([ "$RATE" = 0 ] &&
	echo "ios in flight (tenants x queues x QD)" || echo "IOPS (tenants x $RATE)")"
printf "%7s %4s %7s %10s %4s %10s\n" "t(s)" step tenants offered c "lambda/s"
awk -v q=$((QUEUES * QD)) -v rate="$RATE" '
	$1 == "step" { step = $2; n = $3; next }
	$1 == "end" { n = 0; next }
	{
		off = n ? (rate ? n * rate : n * q) : 0
		if ($2 != lastc || step != laststep || $1 - lastt >= 1 || !seen++) {
			printf "%7.2f %4s %7s %10s %4s %10s\n", $1, step ? step : "-", n, off, $2, $3
			lastc = $2; laststep = step; lastt = $1
		}
	}' "$dir/samples"
echo
echo "# pqm 1 s after the last step"
cat "$dir/final"
