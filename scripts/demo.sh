#!/usr/bin/env bash
# make demo: the control plane on embedded defaults (Temporal + Web UI + worker) in the
# background, then `osccr demo` in the foreground. Ctrl-C stops everything this script started:
# `osccr demo` deletes both services (which stops their OpenSearch nodes) through the control
# plane, then this script stops the control plane.
#
# The control plane runs in a session of its own, so the Ctrl-C a terminal sends to its
# foreground process group reaches `osccr demo` (and make, and this script) but not the control
# plane, which must outlive the demo long enough to delete the services.
set -euo pipefail
state=${OSCCR_STATE_DIR:-.state}
mkdir -p "$state"
setsid ./bin/osccr-worker --dev --state-dir "$state" >"$state/worker.log" 2>&1 </dev/null &
worker=$!

stop_worker() {
  # Output may be a pipe whose reader is gone (Ctrl-C on `make demo | tee demo.log` ends tee
  # too): a failed echo must not end this function before the control plane is stopped.
  trap '' PIPE
  kill -0 "$worker" 2>/dev/null || return 0
  kill "$worker" 2>/dev/null || true
  for _ in $(seq 1 300); do # 30 s, then the hard way
    kill -0 "$worker" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$worker" 2>/dev/null; then
    echo "demo: the control plane did not stop within 30 s: killing it (pid $worker)" 2>/dev/null || true
    kill -9 "$worker" 2>/dev/null || true
  fi
  wait "$worker" 2>/dev/null || true
  echo "demo: stopped the control plane (pid $worker)" 2>/dev/null || true
}
trap stop_worker EXIT
# Bash runs this once `osccr demo` (which has the Ctrl-C too) has finished its clean-up.
trap 'exit 130' INT TERM

# Wait, with a deadline, until the control plane is ready: the worker prints "ready" once
# Temporal accepts requests naming osccr's search attributes and the worker polls.
for _ in $(seq 1 1200); do
  if grep -q "control plane ready" "$state/worker.log" 2>/dev/null; then break; fi
  kill -0 "$worker" 2>/dev/null || { echo "demo: the control plane exited; see $state/worker.log" >&2; tail -20 "$state/worker.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "control plane ready" "$state/worker.log" || { echo "demo: the control plane was not ready within 2 minutes; see $state/worker.log" >&2; exit 1; }
ui="http://127.0.0.1:${OSCCR_UI_PORT:-8233}"
echo "demo: control plane up (pid $worker); Temporal Web UI at $ui"
./bin/osccr demo --ui "$ui" "$@"
