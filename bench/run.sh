#!/usr/bin/env bash
# Runs every goro benchmark next to its Go twin (bench/go/) at GOMAXPROCS 1
# and 2, RUNS times each (default 5), and prints the medians as a Markdown
# table for docs/benchmarks.md. Run from anywhere after `make`:
#   RUNS=5 bash bench/run.sh
#   ONLY="gosched pingpong" RUNS=3 bash bench/run.sh   (a subset)
# Exits non-zero if any run failed; its command and stderr go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
TIMEOUT=${TIMEOUT:-300}   # seconds per run: a hung runtime must not hang the suite
CC=${CC:-cc}

# Each case is a program (PROG or PROG@TWIN when its Go twin is another
# case's program: pingpong's twin is the unbuffered channel ping-pong) and
# its arguments; rss_parked gets one process per
# size so that the larger size does not reuse the smaller one's stacks.
CASES=("spawn_exit" "gosched" "pingpong@chan_pingpong" "rss_parked 1e5" "rss_parked 1e6"
       "chan_pingpong" "chan_buffered" "skynet" "thread_ring" "prime_sieve"
       "mutex" "select2" "timer_latency" "tcp_echo")
# ONLY="gosched skynet" keeps the cases whose program is named there.
if [ -n "${ONLY:-}" ]; then
    kept=()
    for c in "${CASES[@]}"; do
        p=${c%% *}
        [[ " $ONLY " == *" ${p%@*} "* ]] && kept+=("$c")
    done
    CASES=("${kept[@]}")
fi

if ! command -v go >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y golang-go || { apt-get update && apt-get install -y golang-go; }
    else
        echo "run.sh: the Go twins need Go (1.19 or later): install golang-go" \
             "(sudo apt-get install golang-go) or put go on PATH, then rerun." >&2
        exit 1
    fi
fi
for lib in build/libgoro.a build/libgoro-internal.a; do
    [ -f "$lib" ] || { echo "run.sh: $lib is missing: run make first." >&2; exit 1; }
done

# Go keeps its build cache and module path inside build/, nothing in $HOME.
export GOCACHE=$PWD/build/go-cache GOPATH=$PWD/build/gopath
mkdir -p build/bench
for prog in $(printf '%s\n' "${CASES[@]}" | cut -d' ' -f1 | cut -d@ -f1 | uniq); do
    # Only benches that reach into the runtime need its internal symbols.
    lib=build/libgoro.a
    grep -q '#include "runtime.h"' "bench/$prog.c" && lib=build/libgoro-internal.a
    "$CC" -O2 -std=gnu11 -Wall -Wextra -Werror -Iinclude -Isrc "bench/$prog.c" "$lib" \
        -lpthread -o "build/bench/$prog"
    [ -f "bench/go/$prog.go" ] && go build -o "build/bench/${prog}_go" "bench/go/$prog.go"
done

echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo);" \
     "$(go version); medians of $RUNS runs."
echo

# One line per result and run: case result procs impl name value unit, where
# case and result (indexes into CASES and the program's output) keep the
# table in the order the benchmarks print.
raw=$(mktemp)
errlog=$(mktemp)
trap 'rm -f "$raw" "$errlog"' EXIT
failed=0
for procs in 1 2; do
    for i in "${!CASES[@]}"; do
        read -r spec args <<<"${CASES[$i]}"
        prog=${spec%@*} twin=${spec#*@}
        for impl in goro go; do
            bin=build/bench/$prog
            [ "$impl" = go ] && bin=build/bench/${twin}_go
            for _ in $(seq "$RUNS"); do
                rc=0
                # $args is split on purpose: it holds the case's arguments.
                # shellcheck disable=SC2086
                out=$(GOMAXPROCS=$procs timeout -k 10 "$TIMEOUT" "$bin" $args 2>"$errlog") || rc=$?
                if [ $rc = 0 ] && grep -q '^RESULT ' <<<"$out"; then
                    awk -v c="$i" -v p="$procs" -v impl="$impl" \
                        '$1 == "RESULT" { print c, ++r, p, impl, $2, $3, $4 }' <<<"$out" >>"$raw"
                else
                    failed=1
                    echo "FAILED (exit $rc$([ $rc = 124 ] && echo ", timed out after ${TIMEOUT}s")):" \
                         "GOMAXPROCS=$procs $bin${args:+ $args}" >&2
                    sed 's/^/    /' "$errlog" >&2
                fi
            done
        done
    done
done

echo "| benchmark | GOMAXPROCS | goro | Go | ratio (goro/Go) | units |"
echo "|---|---|---|---|---|---|"
# Sorted by case, result, procs, impl and value, each group's values are
# consecutive, so the median is read off in one pass.
sort -k1,1n -k2,2n -k3,3n -k4,4 -k6,6g "$raw" | awk '
    function fmt(v) { return v == "" ? "—" : sprintf(v >= 100 ? "%.0f" : "%.1f", v) }
    function flush_group() {
        if (n == 0) return
        m = n % 2 ? vals[(n + 1) / 2] : (vals[n / 2] + vals[n / 2 + 1]) / 2
        med[gkey] = m
        n = 0
    }
    function flush_row() {
        if (rkey == "") return
        g = med[rkey SUBSEP "goro"]; o = med[rkey SUBSEP "go"]
        ratio = g != "" && o != "" && o > 0 ? sprintf("%.2f", g / o) : "—"
        printf "| %s | %s | %s | %s | %s | %s |\n", rname, rprocs, fmt(g), fmt(o), ratio, runit
    }
    {
        row = $1 SUBSEP $2 SUBSEP $3
        if (row SUBSEP $4 != gkey) flush_group()
        if (row != rkey) { flush_row(); rkey = row; rprocs = $3; runit = $7 }
        if ($4 == "goro") rname = $5 # a shared twin prints its own name
        gkey = row SUBSEP $4
        vals[++n] = $6
    }
    END { flush_group(); flush_row() }'

exit "$failed"
