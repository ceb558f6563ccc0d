#!/usr/bin/env python3
"""Needs ss (iproute2) and GNU time (Debian: time); lsof for --lsof.

Times `unwedge scan --interval 0 --json` beside `ss -tan` and `ss -tanp`
(and the full default scan, two snapshots 1 s apart, and `lsof -nP -iTCP`
when asked) in one interleaved, paired run: every round runs every command
once, in an order that rotates between rounds, and the ratios are taken
within each round (unwedge ÷ that round's `ss -tan`) before their median,
so a burst of load on the machine hits both sides of a ratio alike.

Each command runs under /usr/bin/time for its peak RSS (the rusage of a
child forked from Python would count Python's own pages); the wall time is
taken around it (time's own fork and exec add ~1 ms to every command). The
1-minute load average is printed before and after every round: on a busy
machine the numbers are noise, and say so.

  bench/compare.py [--rounds 9] [--unwedge target/release/unwedge] [--full] [--lsof] [--markdown]
                   [--baseline OTHER_UNWEDGE]   # another build, e.g. before a change

With --baseline, this build against the other is also given as paired
ratios of wall time and of CPU time (user + sys, from wait4).
"""
import argparse, os, shutil, statistics, subprocess, sys, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=9)
ap.add_argument("--unwedge", default="target/release/unwedge")
ap.add_argument("--full", action="store_true", help="also the default scan (two snapshots 1 s apart)")
ap.add_argument("--lsof", action="store_true", help="also lsof -nP -iTCP (slow)")
ap.add_argument("--no-ssp", action="store_true", help="leave out ss -tanp (slow)")
ap.add_argument("--markdown", action="store_true", help="print the tables as markdown")
ap.add_argument("--baseline", help="another unwedge binary to time the same way (before/after)")
a = ap.parse_args()

ONE = "unwedge scan --interval 0 --json"
FULL = "unwedge scan --json (1 s, two snapshots)"
cmds = {ONE: [a.unwedge, "scan", "--interval", "0", "--json"], "ss -tan": ["ss", "-tan"]}
if not a.no_ssp:
    cmds["ss -tanp"] = ["ss", "-tanp"]
if a.full:
    cmds[FULL] = [a.unwedge, "scan", "--json"]
if a.baseline:
    cmds["baseline: unwedge scan --interval 0 --json"] = [a.baseline, "scan", "--interval", "0", "--json"]
    if a.full:
        cmds["baseline: unwedge scan --json"] = [a.baseline, "scan", "--json"]
if a.lsof and shutil.which("lsof"):
    cmds["lsof -nP -iTCP"] = ["lsof", "-nP", "-iTCP"]
if not os.path.exists("/usr/bin/time"):
    sys.exit("compare.py: needs GNU time at /usr/bin/time (Debian: apt-get install time)")


def load1():
    return float(open("/proc/loadavg").read().split()[0])


def run(name):
    argv = cmds[name]
    t = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = p.stderr.read()
    p.stderr.close()
    # wait4's rusage counts the child and what it reaped (the command under
    # time), to the microsecond.
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    code = p.returncode = os.waitstatus_to_exitcode(status)
    cpu[name].append(ru.ru_utime + ru.ru_stime)
    try:
        mb = int(err.strip().splitlines()[-1]) / 1024.0
    except (ValueError, IndexError):
        mb = float("nan")
    # unwedge exits 1 when it found something; 2 is a failure. (time
    # passes the command's status on.)
    if code not in (0, 1):
        sys.exit("compare.py: %s exited %d: %s" % (" ".join(argv), code, err.strip()[-300:]))
    return dt, mb


names = list(cmds)
# user + sys CPU seconds of each run: on a loaded machine the wall time is
# mostly waiting for a core, the CPU time is not.
cpu = {k: [] for k in names}
times = {k: [] for k in names}
rss = {k: [] for k in names}
loads = []
for r in range(a.rounds):
    before = load1()
    order = names[r % len(names):] + names[: r % len(names)]
    for name in order:
        dt, mb = run(name)
        times[name].append(dt)
        rss[name].append(mb)
    loads.append((before, load1()))
    print(f"round {r + 1}/{a.rounds}: load {before:.2f} -> {loads[-1][1]:.2f}; "
          + ", ".join(f"{n.split(' (')[0]} {times[n][-1] * 1000:.0f} ms" for n in names), file=sys.stderr, flush=True)

sockets = sum(1 for _ in open("/proc/net/tcp")) + sum(1 for _ in open("/proc/net/tcp6")) - 2
procs = sum(1 for d in os.listdir("/proc") if d.isdigit())
all_loads = [x for pair in loads for x in pair]
print(f"host: {os.cpu_count()} cores, kernel {os.uname().release}, {sockets} TCP sockets, {procs} processes, "
      f"{a.rounds} rounds; 1-min load average {min(all_loads):.2f}-{max(all_loads):.2f} (median {statistics.median(all_loads):.2f})")


def paired(num, den):
    return statistics.median(x / y for x, y in zip(times[num], times[den]))


rows = []
for name in names:
    t = times[name]
    ratio = "1.000" if name == ONE else f"{paired(ONE, name):.3f}"
    rows.append((name, statistics.median(t) * 1000, min(t) * 1000, max(t) * 1000, max(rss[name]), ratio))
if a.markdown:
    print("\n| command | median ms | min–max ms | peak RSS MB | unwedge ÷ this (paired median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for n, med, lo, hi, mb, ratio in rows:
        print(f"| `{n}` | {med:.1f} | {lo:.0f}–{hi:.0f} | {mb:.1f} | {ratio} |")
else:
    print(f"{'command':44} {'median ms':>10} {'min-max ms':>14} {'peak RSS MB':>12} {'unwedge / this':>15}")
    for n, med, lo, hi, mb, ratio in rows:
        print(f"{n:44} {med:10.1f} {f'{lo:.0f}-{hi:.0f}':>14} {mb:12.1f} {ratio:>15}")

if a.baseline:
    # This build against the other one, paired per round (wall and CPU).
    pairs = [(ONE, "baseline: unwedge scan --interval 0 --json")]
    if a.full:
        pairs.append((FULL, "baseline: unwedge scan --json"))
    print()
    for mine, theirs in pairs:
        wall = statistics.median(x / y for x, y in zip(times[mine], times[theirs]))
        c = [x / y for x, y in zip(cpu[mine], cpu[theirs]) if y > 0]
        print(f"{mine.split(' (')[0]} / baseline (paired median): wall {wall:.3f}, CPU "
              + (f"{statistics.median(c):.3f} (median CPU {statistics.median(cpu[mine]) * 1000:.0f} vs "
                 f"{statistics.median(cpu[theirs]) * 1000:.0f} ms)" if c else "n/a"))
if a.full:
    # The full scan against 1 s + 1.3 x one snapshot, paired per round.
    excess = [(f - 1.0) / o for f, o in zip(times[FULL], times[ONE])]
    print(f"\nfull scan: median {statistics.median(times[FULL]) * 1000:.0f} ms = 1 s + "
          f"{statistics.median(excess):.2f} x one snapshot (paired median; target <= 1.3), peak RSS {max(rss[FULL]):.1f} MB")
print("\npeak RSS per round (MB): " + "; ".join(f"{n.split(' (')[0]}: " + " ".join(f"{m:.0f}" for m in rss[n]) for n in names))
print("\nper round (ms): " + "; ".join(
    f"load {lo:.1f}->{hi:.1f}: " + " / ".join(f"{times[n][i] * 1000:.0f}" for n in names)
    for i, (lo, hi) in enumerate(loads)))
print("columns per round: " + " / ".join(names))
