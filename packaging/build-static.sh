#!/usr/bin/env bash
# Builds a fully static x86_64 Linux binary of unwedge and prints its path.
#
#   packaging/build-static.sh        -> target/x86_64-unknown-linux-gnu/release-static/unwedge
#
# glibc linked statically (-C target-feature=+crt-static): it needs no
# toolchain download (the musl target needs `rustup target add` plus
# musl-gcc for ring's C code) and keeps glibc's allocator, which the scan's
# many small allocations like. What a static glibc gives up: NSS modules
# (docs/install.md, "What the static build gives up"). The profile release-static (Cargo.toml) strips
# symbols and debug info.
#
# The explicit --target keeps +crt-static away from build scripts and proc
# macros, which must stay dynamic. CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
if [ "$(uname -m)" != x86_64 ]; then
  echo "build-static: builds for x86_64 only (this is $(uname -m))" >&2
  exit 2
fi
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile release-static --target "$target" --bin unwedge >&2
dir="${CARGO_TARGET_DIR:-target}"
bin="$dir/$target/release-static/unwedge"
# The proof that it is static: no program interpreter, no needed libraries.
if LC_ALL=C readelf -l "$bin" 2>/dev/null | grep -q 'program interpreter'; then
  echo "build-static: $bin is dynamically linked" >&2
  exit 1
fi
echo "$bin"
