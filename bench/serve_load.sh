#!/usr/bin/env bash
# Load on `unwedge serve` (issue 5): 200 concurrent clients on loopback hit
# /metrics and /v1/scan for 10 s. Prints errors, p50/p99 per path and the
# server's peak RSS. A benchmark, not a test: numbers go in notes, not asserts.
#   bash bench/serve_load.sh [CLIENTS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-200}
secs=${2:-10}
cargo build --release --quiet --bin unwedge --example serve_load
target=${CARGO_TARGET_DIR:-target}
err=$(mktemp)
"$target/release/unwedge" serve --listen 127.0.0.1:0 --scan-interval 2s 2>"$err" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$err"' EXIT
addr=""
for _ in $(seq 100); do
  addr=$(grep -o 'listening on http://[^ ]*' "$err" | sed 's|.*http://||' || true)
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { echo "serve did not start: $(cat "$err")" >&2; exit 2; }
# Wait (bounded) for the first scan so /v1/scan serves a report, not a 503.
for _ in $(seq 100); do
  curl -sf "http://$addr/v1/scan" >/dev/null 2>&1 && break
  sleep 0.1
done
ulimit -n 4096 || true
"$target/release/examples/serve_load" "$addr" "$clients" "$secs"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
