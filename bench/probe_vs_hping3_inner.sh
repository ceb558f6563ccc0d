#!/usr/bin/env bash
# Called by tests/scenarios/probe_netns.sh inside the namespace (BENCH=1):
# median connect time from `unwedge probe tcp` and from `hping3 --syn` to the
# same loopback port, interleaved so both see the same conditions.
set -uo pipefail
unwedge=$1
port=$2
count=${3:-20}
u=$("$unwedge" probe tcp "127.0.0.1:$port" -c "$count" -i 0.05 --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["median_us"]/1000)')
h=$(hping3 -I lo --syn -p "$port" -c "$count" -i u50000 127.0.0.1 2>/dev/null \
  | python3 -c '
import re, statistics, sys
rtts = [float(m.group(1)) for m in re.finditer(r"rtt=([0-9.]+)", sys.stdin.read())]
print(statistics.median(rtts) if rtts else "nan")')
echo "$u $h"
