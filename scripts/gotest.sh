#!/usr/bin/env bash
# go test with the given arguments, then how long each package took, slowest first, so that the
# time CI spends stays visible as the suite grows (CI's budget: a cold run well under 30 min).
set -uo pipefail
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
began=$(date +%s)
"$go" test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo
echo "test time per package, slowest first (wall time of the whole run: $(($(date +%s) - began)) s):"
awk '($1 == "ok" || $1 == "FAIL") && $3 ~ /^[0-9.]+s$/ { t = $3; sub(/s$/, "", t); printf "%8.1f s  %-4s %s\n", t, $1, $2 }' "$log" | sort -rn
exit "$rc"
