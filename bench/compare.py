#!/usr/bin/env python3
"""Needs ss (iproute2), and for all columns lsof and GNU time (Debian: lsof, time).

Times `unwedge scan --interval 0 --json` beside `ss -tanp`, `ss -tan` and
`lsof -nP -iTCP` in one interleaved run: whole-process wall time (median of
--rounds) and peak RSS (from wait4's rusage), with the ratios.

  bench/compare.py [--rounds 7] [--unwedge target/release/unwedge]
"""
import argparse, os, shutil, statistics, subprocess, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--unwedge", default="target/release/unwedge")
a = ap.parse_args()

cmds = {
    "unwedge scan --interval 0 --json": [a.unwedge, "scan", "--interval", "0", "--json"],
    "ss -tanp": ["ss", "-tanp"],
    "ss -tan": ["ss", "-tan"],
}
if shutil.which("lsof"):
    cmds["lsof -nP -iTCP"] = ["lsof", "-nP", "-iTCP"]


def run(argv):
    """Wall time of the bare command; peak RSS from a second run under
    /usr/bin/time (rusage of a child forked from Python would count Python's
    own pages, which survive into the child's high-water mark)."""
    t = time.perf_counter()
    code = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    mb = float("nan")
    if shutil.which("time") or os.path.exists("/usr/bin/time"):
        out = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            mb = int(out.stderr.strip().splitlines()[-1]) / 1024.0
        except (ValueError, IndexError):
            pass
    return dt, mb, code


times = {k: [] for k in cmds}
rss = {k: 0.0 for k in cmds}
for _ in range(a.rounds):
    for name, argv in cmds.items():  # interleaved: every round runs each once
        dt, mb, _code = run(argv)
        times[name].append(dt)
        rss[name] = max(rss[name], mb)

sockets = sum(1 for _ in open("/proc/net/tcp")) + sum(1 for _ in open("/proc/net/tcp6")) - 2
procs = sum(1 for d in os.listdir("/proc") if d.isdigit())
print(f"host: {os.cpu_count()} cores, {sockets} TCP sockets, {procs} processes, {a.rounds} rounds")
base = statistics.median(times["unwedge scan --interval 0 --json"])
print(f"{'command':36} {'median ms':>10} {'peak RSS MB':>12} {'unwedge / this':>15}")
for name in cmds:
    m = statistics.median(times[name])
    print(f"{name:36} {m * 1000:10.1f} {rss[name]:12.1f} {base / m:15.2f}")
