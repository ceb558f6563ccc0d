#!/usr/bin/env python3
"""What `serve --record` costs: `unwedge serve` with and without the flight
recorder, paired, on this host, at the default --scan-interval (15s).

Each round runs both (the order alternates), --seconds each: the serve
starts, its first scan finishes, then an incident starts (a CLOSE-WAIT
leak, tests/scenarios/leaky_listener.py) so that the recorder makes one
recording, and serve's user+system CPU (/proc/PID/stat) is read across the
whole window, with its RSS at the end and its peak RSS (VmHWM). Prints one
line per run and the per-round ratios (with / without), medians last.
Stops only the processes it started.

  bench/record_cost.py [--rounds 3] [--seconds 150] [--unwedge target/release/unwedge]
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--seconds", type=int, default=150)
ap.add_argument("--unwedge", default="target/release/unwedge")
a = ap.parse_args()

TCK = os.sysconf("SC_CLK_TCK")
LEAK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "scenarios", "leaky_listener.py")


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK


def status_kb(pid, key):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def run(record):
    rec = tempfile.mkdtemp(prefix="unwedge-record-cost-")
    extra = ["--record", rec] if record else []
    serve = subprocess.Popen([a.unwedge, "serve", "--listen", "127.0.0.1:0"] + extra,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    leak = None
    try:
        url, deadline = None, time.time() + 60
        while url is None and time.time() < deadline:
            m = re.search(r"listening on (http://\S+)", serve.stderr.readline())
            if m:
                url = m.group(1)
        if url is None:
            sys.exit("record_cost.py: serve printed no address")
        scans = lambda: json.loads(get(url + "/healthz"))["scans"]
        deadline = time.time() + 180
        while scans() < 1 and time.time() < deadline:
            time.sleep(0.2)
        c0, t0, l0 = cpu(serve.pid), time.time(), os.getloadavg()[0]
        n0 = scans()
        leak = subprocess.Popen([sys.executable, "-u", LEAK, "--count", "20"], stdout=subprocess.DEVNULL)
        time.sleep(a.seconds)
        c1, t1, l1 = cpu(serve.pid), time.time(), os.getloadavg()[0]
        n1 = scans()
        rss, hwm = status_kb(serve.pid, "VmRSS"), status_kb(serve.pid, "VmHWM")
        m = get(url + "/metrics")
        out = {
            "record": record, "scans": n1 - n0, "cpu_s": c1 - c0, "share": 100 * (c1 - c0) / (t1 - t0),
            "rss_mb": rss / 1024, "hwm_mb": hwm / 1024, "load": (l0, l1),
            "recordings": metric(m, "unwedge_recordings_total"), "bytes": metric(m, "unwedge_recording_bytes"),
            "duration": metric(m, "unwedge_scan_duration_seconds"),
        }
        print(("with --record   " if record else "without         ")
              + f"{out['scans']} scans, CPU {out['cpu_s']:.2f} s = {out['share']:.2f}% of one core, "
              f"RSS {out['rss_mb']:.0f} MB (peak {out['hwm_mb']:.0f} MB), last scan {out['duration']:.2f} s"
              + (f", {out['recordings']:.0f} recording(s), {out['bytes'] / 1e6:.2f} MB" if record else "")
              + f"; load {l0:.2f} -> {l1:.2f}", flush=True)
        return out
    finally:
        if leak:
            leak.kill()
            leak.wait()
        serve.terminate()
        try:
            serve.wait(timeout=10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        shutil.rmtree(rec, ignore_errors=True)


cpu_ratio, rss_ratio, hwm_ratio = [], [], []
for r in range(a.rounds):
    order = [False, True] if r % 2 == 0 else [True, False]
    res = {rec: run(rec) for rec in order}
    cpu_ratio.append(res[True]["cpu_s"] / max(1e-9, res[False]["cpu_s"]))
    rss_ratio.append(res[True]["rss_mb"] / max(1e-9, res[False]["rss_mb"]))
    hwm_ratio.append(res[True]["hwm_mb"] / max(1e-9, res[False]["hwm_mb"]))
    print(f"round {r + 1}: with/without CPU {cpu_ratio[-1]:.2f}, RSS {rss_ratio[-1]:.2f}, peak RSS {hwm_ratio[-1]:.2f}",
          flush=True)
print(f"median with/without: CPU {statistics.median(cpu_ratio):.2f}, RSS {statistics.median(rss_ratio):.2f}, "
      f"peak RSS {statistics.median(hwm_ratio):.2f}")
