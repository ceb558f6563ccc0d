#!/bin/sh
# Issue 8's churn at full length: processes spawned and reaped and loopback
# connections opened and closed as fast as this host allows (capped at
# 20,000 processes and 100,000 connections) while `unwedge scan` runs in a
# loop; every report must be valid. CI runs the same test for 8 s.
#   bench/churn-long.sh [SECONDS]   (default 30)
set -eu
cd "$(dirname "$0")/.."
UNWEDGE_CHURN_SECS=${1:-30} exec cargo test --release --test churn -- --nocapture
