#!/bin/sh
# Runs every fuzz target in turn for SECONDS each (default 600), one process
# at a time (-jobs=1 -workers=1: the machine is shared). Needs nightly and
# cargo-fuzz (cargo install cargo-fuzz). New crashes land in
# fuzz/artifacts/<target>/: turn each into a regression test (a file in
# fuzz/corpus/<target>/ is run by tests/fuzz_corpus.rs on stable).
set -eu
secs=${1:-600}
cd "$(dirname "$0")/.."
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^unwedge-fuzz$')
cargo +nightly fuzz build -O
for t in $targets; do
    mkdir -p "fuzz/corpus/$t" "fuzz/work/$t"
    echo "== $t ($secs s)"
    # New inputs go to fuzz/work (not committed); the seeds stay as they are.
    cargo +nightly fuzz run -O "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -jobs=1 -workers=1 -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 2>&1 |
        grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Done' || true
done
