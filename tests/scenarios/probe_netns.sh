#!/usr/bin/env bash
# Runs `unwedge probe tcp` inside a private network namespace (run this under
# `unshare -n`): its own loopback, nothing leaves it, so a fixed port is safe.
#
# usage: unshare -n bash probe_netns.sh MODE UNWEDGE [probe tcp args…]
#   MODE none   plain loopback listener
#   MODE drop   iptables drops the 1st of every 3 SYNs: the retransmitted SYN
#               counts too, so every other connect loses its first SYN (~1 s)
#   MODE delay  SYN-ACKs held 50 ms by the NFQUEUE helper
# With BENCH=1 in the environment, runs bench/probe_vs_hping3_inner.sh instead
# (unwedge and hping3 side by side). Prints unwedge's JSON on stdout; exits 77
# when a piece is missing.
set -euo pipefail
mode=$1
unwedge=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
port=8080
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ip link set lo up

# A listener that accepts and closes, with a deep backlog.
python3 -u -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(128); print("READY", flush=True)
s.settimeout(1.0); end = time.monotonic() + 120
while time.monotonic() < end:
    try: c, _ = s.accept(); c.close()
    except socket.timeout: pass
' "$port" > /tmp/probe-netns-listener.$$ &
pids+=($!)

wait_ready() { # file
  for _ in $(seq 1 200); do grep -q READY "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "helper never became ready: $(cat "$1")" >&2; exit 77
}
wait_ready /tmp/probe-netns-listener.$$

case "$mode" in
  none) ;;
  drop)
    iptables -A INPUT -p tcp --syn --dport "$port" -m statistic --mode nth --every 3 --packet 0 -j DROP || exit 77
    ;;
  delay)
    python3 -u "$here/probe_nfqueue_delay.py" 50 0 120 > /tmp/probe-netns-nfq.$$ 2>&1 &
    pids+=($!)
    wait_ready /tmp/probe-netns-nfq.$$
    iptables -A OUTPUT -p tcp --sport "$port" --tcp-flags SYN,ACK SYN,ACK -j NFQUEUE --queue-num 0 || exit 77
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
rm -f /tmp/probe-netns-listener.$$ /tmp/probe-netns-nfq.$$

set +e
if [ "${BENCH:-}" = 1 ]; then
  bash "$here/../../bench/probe_vs_hping3_inner.sh" "$unwedge" "$port" "$@"
else
  "$unwedge" probe tcp "127.0.0.1:$port" --json "$@"
fi
exit $?
