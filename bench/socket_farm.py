#!/usr/bin/env python3
"""A loopback socket farm for benchmarks: N established connections (both
ends open) spread over K processes, M server-side CLOSE-WAIT sockets and P
extra idle processes. Loopback only; it kills itself after --ttl seconds.

  bench/socket_farm.py up --conns 10000 --procs 20 [--close-wait 0] [--idle 0] [--ttl 900]
  bench/socket_farm.py down

Idle processes are forked Pythons sleeping (--idle-kind python: ~0.8 MB of
private memory each, five fds) or forked and exec'd /bin/sleep (--idle-kind
sleep: ~0.2 MB, three fds), which 10,000 of fit in a few GB. Both exit by
themselves after --ttl. --pidfile keeps two farms (two users) apart.
"""
import argparse, json, os, resource, signal, socket, sys, time

PIDFILE = "/tmp/unwedge-socket-farm.pid"


def start_time(pid):
    """Field 22 of /proc/PID/stat: with the pid, names one process for good."""
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def worker(index, conns, close_wait, ttl, ready_w):
    """Holds `conns` connections to its own listeners, both ends open."""
    signal.alarm(ttl)
    raise_nofile(2 * (conns + close_wait) + 64)
    # Several listeners and 127.x source addresses keep clear of the
    # ephemeral range's 28k ports per 4-tuple family.
    held, listeners = [], []
    per_listener = 20000
    made = 0
    while made < conns + close_wait:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(4096)
        listeners.append(srv)
        port = srv.getsockname()[1]
        batch = min(per_listener, conns + close_wait - made)
        for i in range(batch):
            src = "127.%d.%d.%d" % (1 + index % 200, (i // 250) % 250, 1 + i % 250)
            c = socket.socket()
            c.bind((src, 0))
            c.connect(("127.0.0.1", port))
            s, _ = srv.accept()
            if made + i >= conns:
                c.close()  # the server side stays in CLOSE-WAIT
                held.append(s)
            else:
                held.extend((c, s))
        made += batch
    os.write(ready_w, b"x")
    while True:
        time.sleep(3600)


def up(a):
    if os.path.exists(a.pidfile):
        sys.exit("a farm is already up (%s); run `down` first" % a.pidfile)
    os.setpgid(0, 0)
    r, w = os.pipe()
    per = [a.conns // a.procs + (1 if i < a.conns % a.procs else 0) for i in range(a.procs)]
    cw = [a.close_wait // a.procs + (1 if i < a.close_wait % a.procs else 0) for i in range(a.procs)]
    kids = []
    for i in range(a.procs):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            worker(i, per[i], cw[i], a.ttl, w)
            os._exit(0)
        kids.append(pid)
    for _ in range(a.idle):
        pid = os.fork()
        if pid == 0:
            if a.idle_kind == "sleep":
                try:
                    os.execv("/bin/sleep", ["sleep", str(a.ttl)])
                finally:
                    os._exit(127)
            signal.alarm(a.ttl)
            while True:
                time.sleep(3600)
        kids.append(pid)
    os.close(w)
    got = 0
    deadline = time.time() + 600
    while got < a.procs and time.time() < deadline:
        chunk = os.read(r, 64)
        if not chunk:
            break
        got += len(chunk)
    # Every pid with its start time: `down` kills exactly these, never a
    # reused pid or process group after the farm died of its --ttl.
    with open(a.pidfile, "w") as f:
        json.dump({"pgid": os.getpgid(0), "pids": {p: start_time(p) for p in kids}}, f)
    print("READY farm pgid=%d conns=%d close_wait=%d procs=%d idle=%d" % (os.getpgid(0), a.conns, a.close_wait, a.procs, a.idle), flush=True)


def down(a):
    try:
        farm = json.load(open(a.pidfile))
    except FileNotFoundError:
        print("no farm is up")
        return
    killed = 0
    for pid, started in farm["pids"].items():
        pid = int(pid)
        if started is not None and start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    os.unlink(a.pidfile)
    print("farm down (%d processes killed)" % killed)


ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
sub = ap.add_subparsers(dest="cmd", required=True)
u = sub.add_parser("up")
u.add_argument("--conns", type=int, default=10000)
u.add_argument("--procs", type=int, default=20)
u.add_argument("--close-wait", type=int, default=0)
u.add_argument("--idle", type=int, default=0)
u.add_argument("--idle-kind", choices=["python", "sleep"], default="python")
u.add_argument("--ttl", type=int, default=900, help="seconds before the farm kills itself")
u.add_argument("--pidfile", default=PIDFILE)
d = sub.add_parser("down")
d.add_argument("--pidfile", default=PIDFILE)
args = ap.parse_args()
{"up": up, "down": down}[args.cmd](args)
