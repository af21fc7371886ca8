#!/usr/bin/env bash
# make demo: the control plane on embedded defaults (Temporal + Web UI + worker) in the
# background, then `osccr demo` in the foreground. Ctrl-C stops everything this script started.
set -euo pipefail
state=${OSCCR_STATE_DIR:-.state}
mkdir -p "$state"
./bin/osccr-worker --dev --state-dir "$state" >"$state/worker.log" 2>&1 &
worker=$!
cleanup() { kill "$worker" 2>/dev/null && wait "$worker" 2>/dev/null; echo "demo: stopped the control plane (pid $worker)"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait, with a deadline, until the control plane answers a visibility query on osccr's search
# attributes (the frontend answers before they are registered and visible).
for _ in $(seq 1 120); do
  if ./bin/osccr service list >/dev/null 2>&1; then break; fi
  kill -0 "$worker" 2>/dev/null || { echo "demo: the worker exited; see $state/worker.log" >&2; tail -20 "$state/worker.log" >&2; exit 1; }
  sleep 0.5
done
echo "demo: control plane up (pid $worker); Temporal Web UI at http://127.0.0.1:8233"
./bin/osccr demo "$@"
