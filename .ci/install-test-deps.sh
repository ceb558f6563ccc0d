#!/usr/bin/env bash
# Installs the Debian packages that the live probe tests (tests/probe_*.rs)
# and bench/probe_vs_hping3.sh need. Idempotent: does nothing when all are
# present, otherwise one `apt-get update` and one install.
set -euo pipefail

# binary -> Debian package
need=(
  "nginx:nginx-light"        # TLS timings against real software
  "openssl:openssl"          # self-signed certificates made by the tests
  "iptables:iptables"        # SYN drops and the NFQUEUE SYN-ACK delay in a test netns
  "python3:python3"          # scenario servers and the NFQUEUE helper (stdlib only)
  "ip:iproute2"              # bring up lo inside the test's network namespace
  "unshare:util-linux"       # private network namespaces
  "hping3:hping3"            # bench/probe_vs_hping3.sh only
)

missing=()
for pair in "${need[@]}"; do
  bin=${pair%%:*}
  pkg=${pair#*:}
  # nginx lives in /usr/sbin, which a non-login PATH may lack.
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
    missing+=("$pkg")
  fi
done

# The system trust store, which `probe http` verifies against by default.
if [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  missing+=("ca-certificates")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
# Debian starts nginx after install on systemd hosts; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
