#!/usr/bin/env bash
# Median TCP connect time: `unwedge probe tcp` (plain connect()) vs
# `hping3 --syn` (raw SYN, libpcap), on a bare loopback and through a 50 ms
# SYN-ACK delay (NFQUEUE), each in a private network namespace.
# Needs root, iptables, hping3, python3 (.ci/install-test-deps.sh).
#
# usage: bench/probe_vs_hping3.sh [COUNT]   (default 20 probes per tool per case)
#
# Measured here (2 cores, kernel 6.18, release build, 50 probes each):
#   case                         unwedge (ms)    hping3 (ms)
#   loopback                            0.088          0.500
#   loopback + 50 ms SYN-ACK           50.438         51.000
# hping3 prints rtt to 0.1 ms and times the SYN-ACK in user space via
# libpcap, which adds ~0.4 ms; connect() returns when the kernel has it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
unwedge=$CARGO_TARGET_DIR/release/unwedge
export PATH=$PATH:/usr/sbin:/sbin
printf '%-26s %14s %14s\n' case "unwedge (ms)" "hping3 (ms)"
for mode in none delay; do
  read -r u h < <(BENCH=1 unshare -n bash "$root/tests/scenarios/probe_netns.sh" "$mode" "$unwedge" "$count")
  label=$([ "$mode" = none ] && echo "loopback" || echo "loopback + 50 ms SYN-ACK")
  printf '%-26s %14.3f %14.3f\n' "$label" "$u" "$h"
done
