#!/usr/bin/env python3
"""The CPU share of `unwedge serve`'s background scans on this host.

Starts `unwedge serve --listen 127.0.0.1:0` (default --scan-interval 15s,
each scan two snapshots 1 s apart), waits for its first scan, then reads
the process's user+system CPU time (/proc/PID/stat) across --seconds of
whole scan periods and prints it as a percentage of one core, with the
load average. Stops the serve it started (and only it) at the end.

  bench/serve_cpu.py [--seconds 120] [--unwedge target/release/unwedge] [-- extra serve flags]
"""
import argparse, json, os, re, subprocess, sys, time, urllib.request

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--seconds", type=int, default=120)
ap.add_argument("--unwedge", default="target/release/unwedge")
ap.add_argument("extra", nargs="*")
a = ap.parse_args()

TCK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK


serve = subprocess.Popen([a.unwedge, "serve", "--listen", "127.0.0.1:0"] + a.extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    url = None
    deadline = time.time() + 30
    while url is None and time.time() < deadline:
        line = serve.stderr.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            url = m.group(1)
    if url is None:
        sys.exit("serve_cpu.py: serve printed no address")

    def scans():
        with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
            return json.load(r)["scans"]

    # Start on a scan boundary: right after a scan finished.
    deadline = time.time() + 120
    while scans() < 1 and time.time() < deadline:
        time.sleep(0.2)
    first = scans()
    while scans() == first and time.time() < deadline:
        time.sleep(0.05)
    n0, c0, t0, l0 = scans(), cpu(serve.pid), time.time(), os.getloadavg()[0]
    time.sleep(a.seconds)
    n1, c1, t1, l1 = scans(), cpu(serve.pid), time.time(), os.getloadavg()[0]
    share = 100 * (c1 - c0) / (t1 - t0)
    per = (c1 - c0) / max(1, n1 - n0)
    hwm = next((l.split()[1] for l in open("/proc/%d/status" % serve.pid) if l.startswith("VmHWM:")), "?")
    print(f"serve: {n1 - n0} scans in {t1 - t0:.0f} s, CPU {c1 - c0:.2f} s = {share:.2f}% of one core "
          f"({per:.2f} s per scan); peak RSS {int(hwm) / 1024:.1f} MB over its life; load average {l0:.2f} -> {l1:.2f}")
finally:
    serve.terminate()
    try:
        serve.wait(10)
    except subprocess.TimeoutExpired:
        serve.kill()
        serve.wait()
