#!/bin/sh
# Runs every BUILD_DIR/tests/test_* program under prove, once for each
# GOMAXPROCS in 1, 2 and 8. Exits non-zero if any configuration failed and
# says which ones.
#
#   tests/run.sh build            # normal build
#   tests/run.sh build/tsan       # sanitizer builds
#   PROVE_FLAGS=-v tests/run.sh build   # show the measured numbers (# lines)
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build=$1

# Tests that measure latencies run alone, after the others: on a 2-core
# machine a neighbour test can delay sysmon by tens of milliseconds.
timed="test_fairness test_preempt test_idle test_timer_liveness"
tests=""
serial=""
for t in "$build"/tests/test_*; do
    case $t in
    *.c | *.o | *.d | *.log) continue ;;
    esac
    [ -f "$t" ] && [ -x "$t" ] || continue
    case " $timed " in
    *" $(basename "$t") "*) serial="$serial $t" ;;
    *) tests="$tests $t" ;;
    esac
done
if [ -z "$tests$serial" ]; then
    echo "run.sh: no test programs in $build/tests" >&2
    exit 2
fi

# Sanitizer reports must fail the test, not scroll by.
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
: "${ASAN_OPTIONS:=abort_on_error=0:detect_leaks=1}"
: "${TSAN_OPTIONS:=halt_on_error=1:second_deadlock_stack=1}"
export UBSAN_OPTIONS ASAN_OPTIONS TSAN_OPTIONS

failed=""
for procs in 1 2 8; do
    echo "=== $build: GOMAXPROCS=$procs"
    # shellcheck disable=SC2086
    if ! GOMAXPROCS=$procs prove --exec '' -j2 --timer ${PROVE_FLAGS:-} $tests ||
       ! GOMAXPROCS=$procs prove --exec '' --timer ${PROVE_FLAGS:-} $serial; then
        failed="$failed GOMAXPROCS=$procs"
    fi
done

if [ -n "$failed" ]; then
    echo "run.sh: FAILED in $build with:$failed" >&2
    exit 1
fi
echo "run.sh: all tests passed in $build for GOMAXPROCS 1, 2 and 8"
