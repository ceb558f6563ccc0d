#!/usr/bin/env python3
"""What sampling busy threads costs a scan (issue 26). As root; needs a C
compiler and GNU time (/usr/bin/time).

A farm (bench/busy_farm.c) runs N threads spinning while three connections
wait unaccepted on its listener: one busy_thread finding whose N threads
`unwedge scan --stacks auto` samples for half a second after the second
snapshot (perf events), and `--stacks off` does not. The farm is pinned to
the host's last CPU, in a cpu cgroup with the largest weight: its threads
share that CPU among themselves (busy together, not starved by the host's
other load), and the scans run on the other CPUs (pinned there: on the farm's CPU its
weight would leave them nothing).

Rounds alternate the two scans (the order rotating); per round the ratios
auto / off of wall time and of CPU time (user + sys, from wait4) are taken,
and their medians printed with the median peak RSS (GNU time) of each.

  bench/cpu_sampling.py [--threads 10] [--rounds 9] [--unwedge target/release/unwedge] [--markdown]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--threads", type=int, default=10)
ap.add_argument("--rounds", type=int, default=9)
ap.add_argument("--unwedge", default="target/release/unwedge")
ap.add_argument("--markdown", action="store_true")
a = ap.parse_args()
if os.geteuid() != 0:
    sys.exit("cpu_sampling.py: run as root (perf events on another process, a cpu cgroup)")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def cgroup_dir():
    """A new cpu cgroup with the largest weight (v1 cpu.shares, or v2 cpu.weight)."""
    v1 = v2 = None
    for line in open("/proc/self/mountinfo"):
        pre, _, post = line.partition(" - ")
        point, post = pre.split()[4], post.split()
        if post[0] == "cgroup" and "cpu" in post[2].split(","):
            v1 = point
        elif post[0] == "cgroup2":
            v2 = point
    base = v1 or v2
    path = os.path.join(base, "unwedge-bench-%d" % os.getpid())
    os.mkdir(path)
    with open(os.path.join(path, "cpu.shares" if v1 else "cpu.weight"), "w") as f:
        f.write("262144" if v1 else "10000")
    return path


def timed(argv):
    """Wall s, CPU s (user + sys of the command), peak RSS MB, stdout. The
    command runs off the farm's CPU: there the farm's weight would leave it
    nothing."""
    others = sorted(os.sched_getaffinity(0) - {cpu})
    t = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%M"] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: os.sched_setaffinity(0, others))
    out = p.stdout.read()
    err = p.stderr.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit("cpu_sampling.py: %s exited %d: %s" % (" ".join(argv), code, err[-300:]))
    return dt, ru.ru_utime + ru.ru_stime, int(err.strip().splitlines()[-1]) / 1024.0, out


work = tempfile.mkdtemp()
farm_bin = os.path.join(work, "busy_farm")
subprocess.run(["cc", "-O2", "-g", "-pthread", "-o", farm_bin, os.path.join(ROOT, "bench/busy_farm.c")], check=True)
cg = cgroup_dir()
cpu = max(os.sched_getaffinity(0))


def into_cgroup():
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    os.sched_setaffinity(0, {cpu})
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (3600, 3605))


farm = subprocess.Popen([farm_bin, str(a.threads)], stdout=subprocess.PIPE, preexec_fn=into_cgroup)
try:
    if not farm.stdout.readline().startswith(b"READY"):
        sys.exit("cpu_sampling.py: the farm did not start")
    time.sleep(1)
    # The scan must see one busy_thread with every farm thread sampled.
    for _ in range(10):
        _, _, _, out = timed([a.unwedge, "scan", "--json", "--pid", str(farm.pid)])
        busy = [f for f in json.loads(out)["findings"] if f["kind"] == "busy_thread"]
        sampled = busy and sum(1 for t in busy[0]["evidence"]["threads"] if t.get("cpu_profile", {}).get("samples"))
        if sampled == a.threads:
            break
    else:
        sys.exit("cpu_sampling.py: no busy_thread with %d sampled threads: %s" % (a.threads, out[:2000]))
    print("busy_thread: %d threads sampled, %d samples" % (
        sampled, sum(t["cpu_profile"]["samples"] for t in busy[0]["evidence"]["threads"])))
    modes = ["off", "auto"]
    res = {m: {"wall": [], "cpu": [], "rss": []} for m in modes}
    ratios = {"wall": [], "cpu": []}
    for r in range(a.rounds):
        load = float(open("/proc/loadavg").read().split()[0])
        got = {}
        for m in (modes if r % 2 == 0 else modes[::-1]):
            wall, cpu_s, rss, _ = timed([a.unwedge, "scan", "--json", "--stacks", m])
            got[m] = (wall, cpu_s)
            res[m]["wall"].append(wall)
            res[m]["cpu"].append(cpu_s)
            res[m]["rss"].append(rss)
        ratios["wall"].append(got["auto"][0] / got["off"][0])
        ratios["cpu"].append(got["auto"][1] / got["off"][1])
        print("round %d (load %.1f): off %.0f ms / %.0f ms CPU, auto %.0f ms / %.0f ms CPU" % (
            r + 1, load, got["off"][0] * 1e3, got["off"][1] * 1e3, got["auto"][0] * 1e3, got["auto"][1] * 1e3))
    med = statistics.median
    rows = [(m, med(res[m]["wall"]) * 1e3, med(res[m]["cpu"]) * 1e3, med(res[m]["rss"])) for m in modes]
    if a.markdown:
        print("| scan | wall (median) | CPU (median) | peak RSS (median) |")
        print("| --- | ---: | ---: | ---: |")
        for m, w, c, rss in rows:
            print("| `--stacks %s` | %.0f ms | %.0f ms | %.1f MB |" % (m, w, c, rss))
    else:
        for m, w, c, rss in rows:
            print("--stacks %-4s wall %.0f ms, CPU %.0f ms, peak RSS %.1f MB" % (m, w, c, rss))
    print("paired ratios auto / off: wall %.2f, CPU %.2f (bar: < 1.5)" % (med(ratios["wall"]), med(ratios["cpu"])))
finally:
    farm.kill()
    farm.wait()
    for _ in range(50):
        try:
            os.rmdir(cg)
            break
        except OSError:
            time.sleep(0.1)
    subprocess.run(["rm", "-rf", work])
