#!/bin/sh
# test_symbols — the shipped libraries define no global symbol outside the
# goro_* API (TAP, for prove).
#
#   tests/test_symbols.sh LIB...      # libgoro.a (nm: the localized object)
#                                     # or libgoro.so (nm -D: the dynamic table)
#
# For each library: (1) no defined global symbol other than goro_* (weak
# and undefined ones are fine: the C library's, the sanitizers'), (2) the
# API is there: every function include/goro.h declares is defined.
# NM overrides nm; GORO_HEADER the header (default: ../include/goro.h from
# this script).
set -u
nm=${NM:-nm}
here=$(cd "$(dirname "$0")" && pwd)
header="${GORO_HEADER:-$here/../include/goro.h}"

if [ $# -eq 0 ]; then
    echo "usage: $0 LIB..." >&2
    exit 2
fi

# The functions goro.h declares: on each line that begins with a type
# (comments, macro bodies and typedefs begin otherwise), the first goro_
# name followed by "(".
api=$(grep -E '^[A-Za-z_]' "$header" | grep -vE '^(#|typedef)' |
    while IFS= read -r line; do
        printf '%s\n' "$line" | grep -oE '(^|[^A-Za-z0-9_])goro_[a-z0-9_]+[[:space:]]*\(' | head -n 1
    done | grep -oE 'goro_[a-z0-9_]+' | sort -u)

echo "1..$(($# * 2))"
n=0
status=0
for lib in "$@"; do
    case $lib in
    *.so*) defined=$("$nm" -D --defined-only "$lib") || { echo "Bail out! $nm -D $lib failed"; exit 1; } ;;
    *) defined=$("$nm" --defined-only "$lib") || { echo "Bail out! $nm $lib failed"; exit 1; } ;;
    esac
    # "ADDR TYPE NAME": global types are upper case (and u, GNU unique);
    # weak ones (W, V) and locals (lower case) are fine.
    globals=$(printf '%s\n' "$defined" | awk 'NF == 3 && $2 ~ /^[ABCDGIRSTu]$/ { print $3 }' | sort -u)
    stray=$(printf '%s\n' "$globals" | grep -v '^goro_' || true)
    n=$((n + 1))
    if [ -z "$stray" ]; then
        echo "ok $n - $lib: no global symbol outside goro_* ($(printf '%s\n' "$globals" | grep -c .) goro_* ones)"
    else
        echo "not ok $n - $lib: global symbols outside goro_*: $(echo $stray)"
        echo "# FAILED $lib exports: $(echo $stray)" >&2
        status=1
    fi
    missing=""
    for f in $api; do
        printf '%s\n' "$globals" | grep -qx "$f" || missing="$missing $f"
    done
    n=$((n + 1))
    if [ -n "$api" ] && [ -z "$missing" ]; then
        echo "ok $n - $lib: defines all $(echo $api | wc -w) functions of goro.h"
    else
        echo "not ok $n - $lib: goro.h functions not defined:${missing:- (none found in $header)}"
        echo "# FAILED $lib lacks:${missing:- (no goro.h API parsed)}" >&2
        status=1
    fi
done
exit $status
