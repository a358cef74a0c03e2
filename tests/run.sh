#!/bin/sh
# Runs test programs of one build under prove, once for each GOMAXPROCS
# value. Exits non-zero if any configuration failed and says which ones.
#
#   tests/run.sh BUILD_DIR [TEST...]
#
#   BUILD_DIR  build, build/tsan or build/asan
#   TEST       names of BUILD_DIR/tests programs, with or without the test_
#              prefix (chan or test_chan); default: the names in $T if set,
#              else every BUILD_DIR/tests/test_* program
#   PROCS      (environment) the GOMAXPROCS values, default "1 2 8"
#
#   tests/run.sh build                          # normal build, everything
#   PROCS=2 tests/run.sh build/tsan chan select # two tests, GOMAXPROCS=2
#   PROVE_FLAGS=-v tests/run.sh build           # show the measured numbers (# lines)
set -u

if [ $# -lt 1 ]; then
    echo "usage: [PROCS='1 2 8'] $0 BUILD_DIR [TEST...]" >&2
    exit 2
fi
build=$1
shift
if [ $# -eq 0 ] && [ -n "${T:-}" ]; then
    # shellcheck disable=SC2086
    set -- $T
fi
procs=${PROCS:-1 2 8}

# The programs to run.
progs=""
if [ $# -gt 0 ]; then
    for name in "$@"; do
        t="$build/tests/test_${name#test_}"
        if ! [ -f "$t" ] || ! [ -x "$t" ]; then
            echo "run.sh: no test program $t (make $t builds it)" >&2
            exit 2
        fi
        progs="$progs $t"
    done
else
    for t in "$build"/tests/test_*; do
        case $t in
        *.c | *.o | *.d | *.log) continue ;;
        esac
        [ -f "$t" ] && [ -x "$t" ] && progs="$progs $t"
    done
fi
if [ -z "$progs" ]; then
    echo "run.sh: no test programs in $build/tests" >&2
    exit 2
fi

# Tests that measure latencies run alone, after the others: on a 2-core
# machine a neighbour test can delay sysmon by tens of milliseconds.
timed="test_fairness test_preempt test_idle test_timer_liveness"
tests=""
serial=""
for t in $progs; do
    case " $timed " in
    *" $(basename "$t") "*) serial="$serial $t" ;;
    *) tests="$tests $t" ;;
    esac
done

# Sanitizer reports must fail the test, not scroll by.
: "${UBSAN_OPTIONS:=halt_on_error=1:print_stacktrace=1}"
: "${ASAN_OPTIONS:=abort_on_error=0:detect_leaks=1}"
: "${TSAN_OPTIONS:=halt_on_error=1:second_deadlock_stack=1}"
export UBSAN_OPTIONS ASAN_OPTIONS TSAN_OPTIONS

# prove with no files runs t/: each group only if it has tests.
failed=""
for p in $procs; do
    echo "=== $build: GOMAXPROCS=$p"
    ok=1
    # shellcheck disable=SC2086
    if [ -n "$tests" ] && ! GOMAXPROCS=$p prove --exec '' -j2 --timer ${PROVE_FLAGS:-} $tests; then
        ok=0
    fi
    # shellcheck disable=SC2086
    if [ -n "$serial" ] && ! GOMAXPROCS=$p prove --exec '' --timer ${PROVE_FLAGS:-} $serial; then
        ok=0
    fi
    [ $ok -eq 1 ] || failed="$failed GOMAXPROCS=$p"
done

if [ -n "$failed" ]; then
    echo "run.sh: FAILED in $build with:$failed" >&2
    exit 1
fi
echo "run.sh: all tests passed in $build for GOMAXPROCS $procs"
