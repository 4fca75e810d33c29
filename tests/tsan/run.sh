#!/bin/sh
# Builds the lock-free ring test with ThreadSanitizer and runs it. A data race (for example a
# ring access made with a too-weak memory order, or a plain access to a shared index) fails the
# run with TSan's report.
#   tests/tsan/run.sh [build-dir]        default build dir: <source root>/build-tsan
# HNVMF_RING_ITEMS sets how many items each threaded case moves (TSan slows atomics ~10x;
# the default keeps the run well under a minute on two cores).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-tsan}

cmake -S "$root/tests/tsan" -B "$build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}"
export HNVMF_RING_ITEMS="${HNVMF_RING_ITEMS:-1000000}"
ctest --test-dir "$build" --output-on-failure
