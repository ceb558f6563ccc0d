#!/usr/bin/env python3
"""Issue 26: what reading a runtime's own facts costs a scan, paired in one
run. Two services stuck the way tests/scan_runtimes.rs stages them, scaled:

- python: tests/scenarios/py_service.py leak under Debian's python3.11 with
  PY_THREADS requests, each on its own handler thread waiting in the leaked
  pool (PY_THREADS + 1 threads whose Python frames are read, the largest
  group named);
- jvm: tests/scenarios/JvmScenario.java `deadlock JVM_HANDLERS` (openjdk-17)
  with a pool of JVM_HANDLERS handlers (about JVM_HANDLERS + 20 threads),
  20 requests stuck on its deadlocked monitors.

Each round runs, in an order that rotates between rounds, `unwedge scan
--json --pid PID --answer-timeout 2s` with `--stacks off`, `auto` (the
default: native stacks, Python frames, hsperfdata) and, for the JVM,
`attach` (its own thread dump too). Wall time around the child, its CPU
time (user + sys) and peak RSS from wait4. The ratios are paired within a
round (mode ÷ that round's `off`) before their median, so a burst of load
from other work hits both sides alike. hsperfdata is read in every mode,
`off` included: it is not a stack.

  bench/runtimes.py [--rounds 7] [--unwedge target/release/unwedge]
                    [--py-threads 200] [--jvm-handlers 480] [--markdown]
"""
import argparse, json, os, resource, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=7)
ap.add_argument("--unwedge", default=os.path.join(ROOT, "target/release/unwedge"))
ap.add_argument("--py-threads", type=int, default=200)
ap.add_argument("--jvm-handlers", type=int, default=480)
ap.add_argument("--markdown", action="store_true")
a = ap.parse_args()


def start(argv, cwd=None):
    """Starts a scenario in its own process group; its READY json."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = p.stdout.readline().decode()
        if line.startswith("READY"):
            return p, json.loads(line.split(" ", 1)[1])
        if not line and p.poll() is not None:
            break
    sys.exit(f"{argv[0]} did not become ready")


def ask(port, n):
    held = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /b%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
        held.append(s)
    return held


def threads_of(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def scan(pid, mode):
    argv = [a.unwedge, "scan", "--json", "--pid", str(pid), "--answer-timeout", "2s", "--stacks", mode]
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t) * 1000
    report = json.loads(out)
    return wall, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_maxrss / 1024, report


def named(report, pid):
    return [f["kind"] for f in report["findings"] if f.get("pid") == pid]


def bench(name, pid, modes):
    rows = {m: [] for m in modes}
    for r in range(a.rounds):
        order = modes[r % len(modes):] + modes[:r % len(modes)]
        load = os.getloadavg()[0]
        for m in order:
            wall, cpu, rss, report = scan(pid, m)
            rows[m].append((wall, cpu, rss, report))
        print(f"  {name} round {r + 1}: load {load:.1f}; " + ", ".join(
            f"{m} {rows[m][-1][0]:.0f} ms wall / {rows[m][-1][1]:.0f} ms CPU" for m in modes), file=sys.stderr)
    return rows


def summary(name, threads, rows, what):
    off = rows["off"]
    lines = []
    for m, runs in rows.items():
        med = lambda i: statistics.median(x[i] for x in runs)
        ratio = lambda i: statistics.median(x[i] / o[i] for x, o in zip(runs, off))
        lines.append((name, threads, m, med(0), ratio(0), med(1), ratio(1), max(x[2] for x in runs), what(runs[-1][3])))
    return lines


def main():
    if not os.path.exists(a.unwedge):
        sys.exit(f"no {a.unwedge}: cargo build --release --bin unwedge")
    out = []
    # Python: the pool leak with many handler threads.
    py, ready = start(["/usr/bin/python3.11", "-u", os.path.join(ROOT, "tests/scenarios/py_service.py"), "leak"])
    held = ask(ready["port"], a.py_threads)
    pid = ready["pid"]
    time.sleep(3)
    try:
        def py_what(report):
            f = [f for f in report["findings"] if f.get("pid") == pid and f["kind"] == "unanswered_requests"]
            if not f:
                return "no finding"
            g = (f[0]["evidence"]["threads"][0].get("python_threads") or {}).get("groups") or []
            pool = "pool named" if f[0]["evidence"].get("pool") else "no pool"
            return f"{pool}; largest Python group {g[0]['count'] if g else 0} threads"
        rows = bench("python", pid, ["off", "auto"])
        out += summary("python", threads_of(pid), rows, py_what)
    finally:
        os.killpg(py.pid, signal.SIGKILL)
        for s in held:
            s.close()
    # JVM: a deadlocked pool of many handlers.
    jdk = next((os.path.join("/usr/lib/jvm", d, "bin") for d in sorted(os.listdir("/usr/lib/jvm"))
                if d.startswith("java-17-openjdk")), None)
    if jdk is None:
        sys.exit("no openjdk-17")
    classes = tempfile.mkdtemp(prefix="unwedge-bench-jvm-")
    subprocess.run([os.path.join(jdk, "javac"), "-d", classes, os.path.join(ROOT, "tests/scenarios/JvmScenario.java")],
                   check=True)
    jvm, ready = start([os.path.join(jdk, "java"), "-cp", classes, "JvmScenario", "deadlock", str(a.jvm_handlers)])
    held = ask(ready["port"], 20)
    pid = jvm.pid
    time.sleep(3)
    try:
        def jvm_what(report):
            f = [f for f in report["findings"] if f.get("pid") == pid and f["kind"] == "unanswered_requests"]
            if not f:
                return "no finding"
            j = f[0]["evidence"].get("jvm") or {}
            d = "deadlock named" if j.get("deadlocks") else "no verdict"
            return f"{d}; {j.get('housekeeping_threads')} JVM threads left out"
        rows = bench("jvm", pid, ["off", "auto", "attach"])
        out += summary("jvm", threads_of(pid), rows, jvm_what)
    finally:
        os.killpg(jvm.pid, signal.SIGTERM)
        time.sleep(1)
        os.killpg(jvm.pid, signal.SIGKILL)
        for s in held:
            s.close()
    head = ("service", "threads", "--stacks", "wall median", "÷ off", "CPU median", "÷ off", "peak RSS", "what the last scan said")
    fmt = lambda r: (r[0], str(r[1]), r[2], f"{r[3]:.0f} ms", f"{r[4]:.2f}", f"{r[5]:.0f} ms", f"{r[6]:.2f}",
                     f"{r[7]:.1f} MB", r[8])
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + " --- |" * len(head))
        for r in out:
            print("| " + " | ".join(fmt(r)) + " |")
    else:
        for r in out:
            print("  ".join(fmt(r)))


main()
