#!/usr/bin/env bash
# Installs, once and only what is missing, the Debian packages the live tests
# run: python3 (scenario servers, the NFQUEUE helper), iproute2 + util-linux
# (network namespaces), iptables (SYN drops and SYN-ACK delay in a test
# netns), nginx + openssl (TLS probe tests), ca-certificates (the trust store
# `probe http` verifies against), hping3 (tests/scan_uwsgi.rs and
# bench/probe_vs_hping3.sh),
# prometheus (promtool and a real server for the `unwedge serve` tests; ~15 s),
# golang-go (tests/scan_go.rs builds real Go servers for stories 2 and 3; ~20 s),
# uwsgi-core + uwsgi-plugin-python3 (tests/scan_uwsgi.rs: story 4 with real
# uWSGI threads running hping3), gcc + g++ + binutils (tests/stacks_live.rs
# builds story 1 in C and C++, strips it and splits its debug file), redis-server (tests/scan_unanswered.rs: BLPOP
# clients under redis-benchmark must stay silent; the test starts its own),
# chromium + fonts-dejavu-core (tests/html_report.rs opens `scan --html`'s
# page headless: DOM, console, screenshot; ~40 s to install).
# man-db + bash-completion + file + strace (tests/generate.rs and
# tests/packaging.rs: `man -w`, `unwedge sc<TAB>`, the static binary's
# linkage and the files it opens; cargo-deb itself is installed by
# packaging/build-deb.sh).
# gunicorn, gdb, strace (tests/scan_incidents.rs: a one-worker gunicorn, a
# server held by a debugger, a server under strace).
# nodejs (tests/scan_cpu.rs and tests/sample_live.rs: a Node server whose
# event loop a regular expression pins; Debian 12's node 18 and
# nodesource's 20 both pass).
# postgresql (tests/scan_postgres.rs: a throw-away cluster whose sessions
# wait on a lock, and its twin running long queries; psql comes with it).
# openjdk-17-jdk-headless (tests/jvm_live.rs compiles JvmScenario.java with
# its javac and runs it: hsperfdata and the attach thread dump).
# libpython3.11-dev + python3-venv (tests/stacks_python.rs: the CPython
# layout table against Debian's own headers; a venv of Debian's python).
# python3.11, openjdk-17-jdk-headless, gunicorn (tests/scan_runtimes.rs: a
# JVM lock-order deadlock, a CPython pool leak and their twins, scanned).
# Idempotent: does nothing when all are present.
set -euo pipefail
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
need=()
has python3 || need+=(python3)
has ip || need+=(iproute2)
has unshare || need+=(util-linux)
has setpriv || need+=(util-linux)  # tests/not_root.rs drops to nobody
has ss || need+=(iproute2)
has iptables || need+=(iptables)
has nginx || need+=(nginx-light)
has openssl || need+=(openssl)
has hping3 || need+=(hping3)
has promtool || need+=(prometheus)
[ -x /usr/bin/go ] || [ -x /usr/lib/go/bin/go ] || need+=(golang-go)
has uwsgi || need+=(uwsgi-core)
has cc || need+=(gcc)
has c++ || need+=(g++)
has objcopy || need+=(binutils)
has strip || need+=(binutils)
[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ] || need+=(uwsgi-plugin-python3)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
{ has redis-server && has redis-benchmark; } || need+=(redis-server)
has chromium || need+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
has man || need+=(man-db)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
has file || need+=(file)
has strace || need+=(strace)
has readelf || need+=(binutils)
[ -x /usr/bin/gunicorn ] || need+=(gunicorn)
has gdb || need+=(gdb)
has node || need+=(nodejs)
{ ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && has psql; } || need+=(postgresql)
ls /usr/lib/jvm/java-17-openjdk-*/bin/javac >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
[ -x /usr/bin/python3.11 ] || need+=(python3.11)
[ -d /usr/include/python3.11/internal ] || need+=(libpython3.11-dev)
/usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
# iproute2 and binutils may be listed twice.
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: missing ${need[*]} and not root: install them (apt-get install ${need[*]}) for the live tests" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# Debian starts nginx and prometheus after install where it can; the tests
# run their own.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now nginx >/dev/null 2>&1 || true
  systemctl disable --now prometheus >/dev/null 2>&1 || true
  systemctl disable --now redis-server >/dev/null 2>&1 || true
  systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
