#!/usr/bin/env bash
# Installs, once and only what is missing, the Debian packages the live tests
# run: python3 (scenario servers), iproute2 + util-linux (network namespaces),
# prometheus (promtool and a real server for the `unwedge serve` tests; ~15 s).
set -euo pipefail
need=()
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ss >/dev/null 2>&1 || need+=(iproute2)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${need[*]} and not root: install them (apt-get install ${need[*]}) for the live tests" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
