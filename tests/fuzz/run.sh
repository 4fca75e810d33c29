#!/bin/sh
# Runs every fuzz target of a HNVMF_FUZZ build for SECONDS each, starting from the committed
# corpus (tests/fuzz/corpus/<target>, read only: new inputs go to BUILD/fuzz-corpus/<target>).
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]
# Per target it prints one line with libFuzzer's final coverage (cov: edges, ft: features),
# executions per second and the result; then "fuzz: N passed, M failed". A crash, a leak, a
# sanitizer report or an input slower than 10 s fails the target and its input is kept in
# BUILD/fuzz-artifacts/ (add it to the corpus as regress-<what> once the defect is fixed).
set -u
export LC_ALL=C # libFuzzer's status lines may quote any byte: sed must not choke on them
build=${1:?usage: run.sh BUILD SECONDS [TARGET...]}
seconds=${2:?usage: run.sh BUILD SECONDS [TARGET...]}
shift 2
src=$(cd "$(dirname "$0")" && pwd)
targets=${*:-"fuzz_tcp_pdu fuzz_nvme_cmd fuzz_dhchap fuzz_control fuzz_conf fuzz_keyfmt fuzz_tls_hello"}
art="$build/fuzz-artifacts"
mkdir -p "$art"
pass=0
fail=0
for t in $targets; do
    bin="$build/tests/fuzz/$t"
    work="$build/fuzz-corpus/$t"
    log="$build/fuzz-$t.log"
    mkdir -p "$work"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $t: not built ($bin)"
        fail=$((fail + 1))
        continue
    fi
    dict=""
    [ -f "$src/$t.dict" ] && dict="-dict=$src/$t.dict"
    # -max_len: room for a Connect with its data plus commands; the config files are larger.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=20000 \
        -print_final_stats=1 -artifact_prefix="$art/$t-" $dict "$work" "$src/corpus/$t" \
        >"$log" 2>&1
    rc=$?
    # The last status line: "#N DONE cov: C ft: F corp: ... exec/s: E rss: ..."
    stat=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$stat" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$stat" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    eps=$(echo "$stat" | sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p')
    runs=$(echo "$stat" | sed -n 's/^#\([0-9]*\).*/\1/p')
    # -print_final_stats: the run's own totals, when it ended normally
    total=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)/\1/p' "$log")
    avg=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\)/\1/p' "$log")
    runs=${total:-$runs}
    eps=${avg:-$eps}
    if [ $rc -eq 0 ]; then
        res=passed
        pass=$((pass + 1))
    else
        res="FAILED (rc $rc, log $log)"
        fail=$((fail + 1))
        grep -E 'ERROR:|SUMMARY:|Test unit written' "$log" | head -n 5 | sed 's/^/    /'
    fi
    echo "fuzz: $t: ${runs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, ${seconds}s: $res"
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
