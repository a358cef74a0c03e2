#!/bin/sh
# Runs the timing-sensitive tests (timers, wake-ups, preemption, netpoll)
# many times, at GOMAXPROCS 1, 2 and 8, with one busy loop per core but
# one competing for the CPU. A hang is a failure: every run has a timeout,
# and a run that fails keeps its output in BUILD_DIR/stress/.
#
#   tests/stress.sh BUILD_DIR [RUNS]      # RUNS per test and GOMAXPROCS, default 50
#   make stress STRESS_RUNS=200           # the same for build/
#
# GORO_TEST_ROUNDS (default 2) lengthens the tests that read it.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [RUNS]" >&2
    exit 2
fi
build=$1
runs=${2:-50}
tests=${STRESS_TESTS:-"test_time test_timer_races test_timer_liveness test_yield test_idle test_sync test_netpoll test_netpoll_stress"}
: "${GORO_TEST_ROUNDS:=2}"
: "${GORO_TEST_TIMEOUT:=120}"
export GORO_TEST_ROUNDS GORO_TEST_TIMEOUT

busy=""
ncpu=$(nproc)
i=1
while [ "$i" -lt "$ncpu" ]; do
    (while :; do :; done) &
    busy="$busy $!"
    i=$((i + 1))
done
trap 'kill $busy 2>/dev/null' EXIT INT TERM

mkdir -p "$build/stress"
failed=0
total=0
for t in $tests; do
    for procs in 1 2 8; do
        nfail=0
        k=1
        while [ "$k" -le "$runs" ]; do
            out="$build/stress/$t.$procs.$k.log"
            if GOMAXPROCS=$procs timeout -s QUIT $((GORO_TEST_TIMEOUT + 30)) "$build/tests/$t" >"$out" 2>&1; then
                rm -f "$out"
            else
                nfail=$((nfail + 1))
                echo "FAIL $t GOMAXPROCS=$procs run $k: $out"
            fi
            k=$((k + 1))
        done
        total=$((total + runs))
        failed=$((failed + nfail))
        echo "$t GOMAXPROCS=$procs: $nfail of $runs runs failed"
    done
done
echo "stress.sh: $failed of $total runs failed in $build"
[ "$failed" -eq 0 ]
