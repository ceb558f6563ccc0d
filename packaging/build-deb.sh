#!/usr/bin/env bash
# Builds the .deb and prints its path:
#
#   packaging/build-deb.sh            -> target/debian/unwedge_VERSION-1_amd64.deb
#   sudo dpkg -i target/debian/unwedge_*_amd64.deb
#
# It holds the static binary (packaging/build-static.sh; so it installs on
# any x86_64 Debian or Ubuntu, whatever its glibc), the man pages and the
# bash, zsh and fish completions that binary generates, unwedge.service
# (installed disabled), the Prometheus rules and the Grafana dashboard under
# /usr/share/unwedge, the copyright and the changelog. cargo-deb is
# installed from crates.io at the pinned version when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=3.8.0
target=x86_64-unknown-linux-gnu
if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
  echo "build-deb: installing cargo-deb $CARGO_DEB_VERSION (a few minutes, once)" >&2
  cargo install --locked --force cargo-deb --version "=$CARGO_DEB_VERSION" >&2
fi
bin=$(packaging/build-static.sh)

# Fixed paths: [package.metadata.deb] assets in Cargo.toml name them.
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" generate man --dir "$assets/man" >/dev/null
"$bin" generate completions bash >"$assets/completions/unwedge"
"$bin" generate completions zsh >"$assets/completions/_unwedge"
"$bin" generate completions fish >"$assets/completions/unwedge.fish"
# deploy/ documents a hand install to /usr/local/bin; the package's is /usr/bin.
sed 's#/usr/local/bin/unwedge#/usr/bin/unwedge#g' deploy/systemd/unwedge.service >"$assets/unwedge.service"
grep -q '^ExecStart=/usr/bin/unwedge ' "$assets/unwedge.service"

out="${CARGO_TARGET_DIR:-target}/debian"
mkdir -p "$out"
cargo deb --no-build --target "$target" --profile release-static --output "$out" >&2
ls -t "$out"/unwedge_*_amd64.deb | head -n 1
