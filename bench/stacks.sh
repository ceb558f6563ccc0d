#!/usr/bin/env bash
# User stacks (issue 16): cost of reading them, and serve's memory.
# 25 story-1 processes (5 each of 5 binaries: C -O2, C -O1, C stripped,
# C++, Rust) hold 50 stuck threads; `unwedge scan` (release, fresh process,
# so every binary's tables load cold) runs ROUNDS times with --stacks=off
# and with --stacks=auto, alternating. Prints medians and the ratio (the
# bar: < 1.5x), then runs `unwedge serve --scan-interval 1s` over the same
# farm for SCANS scans and prints its RSS after each few scans (bounded: it
# must level off). A benchmark: numbers go in BENCHMARKS.md.
#   bash bench/stacks.sh [ROUNDS] [SCANS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
scans=${2:-30}
cargo build --release --quiet --bin unwedge
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
farm_pid=""
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  [ -n "$farm_pid" ] && kill "$farm_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cc -O2 -pthread -o "$work/c_o2" tests/stacks/story1_proxy.c
cc -O1 -pthread -o "$work/c_o1" tests/stacks/story1_proxy.c
cc -O2 -pthread -o "$work/c_stripped" tests/stacks/story1_proxy.c && strip --strip-all "$work/c_stripped"
c++ -O2 -pthread -o "$work/cpp" tests/stacks/story1_proxy.cpp
rustc -O --edition 2021 -o "$work/rust" tests/stacks/story1_proxy.rs
mkfifo "$work/hold"
python3 -u bench/stacks_farm.py 5 3600 "$work/c_o2" "$work/c_o1" "$work/c_stripped" "$work/cpp" "$work/rust" \
  <"$work/hold" >"$work/farm.out" &
farm_pid=$!
exec 3>"$work/hold"
for _ in $(seq 200); do grep -q READY "$work/farm.out" && break; sleep 0.1; done
grep -q READY "$work/farm.out" || { echo "the farm did not start" >&2; exit 2; }
sleep 1
count_stacks() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(1 for f in r["findings"] if f["evidence"].get("thread",{}).get("user_stack")))'; }
echo "stuck_thread findings with a user stack: $("$target/release/unwedge" scan --json --stacks auto | count_stacks || true)"
off=()
auto=()
for _ in $(seq "$rounds"); do
  for mode in off auto; do
    t0=$(date +%s%N)
    "$target/release/unwedge" scan --json --stacks "$mode" >/dev/null || true
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ "$mode" = off ]; then off+=("$ms"); else auto+=("$ms"); fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_off=$(median "${off[@]}")
m_auto=$(median "${auto[@]}")
echo "scan --stacks=off:  ${off[*]} ms (median $m_off)"
echo "scan --stacks=auto: ${auto[*]} ms (median $m_auto)"
echo "ratio: $(awk -v a="$m_auto" -v o="$m_off" 'BEGIN {printf "%.2f", a / o}') (bar: < 1.5)"

"$target/release/unwedge" serve --listen 127.0.0.1:0 --scan-interval 1s 2>"$work/serve.err" &
serve_pid=$!
echo "serve RSS (KiB) every 5 s over ${scans} s:"
for i in $(seq 0 5 "$scans"); do
  echo "  t=${i}s VmRSS $(awk '/VmRSS/ {print $2}' /proc/$serve_pid/status) VmHWM $(awk '/VmHWM/ {print $2}' /proc/$serve_pid/status)"
  sleep 5
done
