#!/usr/bin/env python3
"""A unix-domain socket farm for benchmarks: --sockets N unix sockets over
--procs K processes, in a network namespace of its own (made with
unshare(CLONE_NEWNET), gone with the farm's last process; root) unless
--host-netns. It kills itself after --ttl seconds.

  bench/unix_farm.py up --sockets 50000 --procs 10 [--shape accepted] [--queued 0] [--ttl 900]
  bench/unix_farm.py down

--queued N: one more listener (backlog N - 1) that never accepts, with N
connections waiting on it: what makes unwedge's default scan dump the
namespace's connections too (a PHP-FPM pool with every worker busy).

Shapes:
  accepted    N/2 connections, each to one of its process's listeners and
              accepted, both ends open (as D-Bus's and journald's clients
              are): the server end of every one carries its listener's
              path, so unwedge keeps half of the sockets (the worst case
              for the snapshot).
  socketpair  N/2 idle socketpairs (unnamed, nothing queued): unwedge
              keeps none of them, the dump still returns them all.
  mixed       half and half.

The socket files live in a directory under /tmp that `down` removes.
"""
import argparse, ctypes, json, os, resource, shutil, signal, socket, sys, tempfile, time

PIDFILE = "/tmp/unwedge-unix-farm.pid"


def start_time(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def worker(index, conns, pairs, queued, directory, ttl, ready_w):
    signal.alarm(ttl)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (conns + pairs) + 64
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, need)), hard))
    held = []
    per_listener = 4096
    made = 0
    while made < conns:
        path = os.path.join(directory, "w%d-l%d.sock" % (index, len(held)))
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(per_listener)
        held.append(srv)
        for _ in range(min(per_listener, conns - made)):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            s, _ = srv.accept()
            held.extend((c, s))
            made += 1
    for _ in range(pairs):
        held.extend(socket.socketpair())
    if queued:
        path = os.path.join(directory, "w%d-stalled.sock" % index)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(queued - 1)  # the kernel queues one more than the backlog
        held.append(srv)
        for _ in range(queued):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            held.append(c)
    os.write(ready_w, b"x")
    while True:
        time.sleep(3600)


def up(a):
    if os.path.exists(a.pidfile):
        sys.exit("a farm is already up (%s); run `down` first" % a.pidfile)
    netns = None
    if not a.host_netns:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET: every worker is forked into it
            sys.exit("unshare(CLONE_NEWNET): %s (needs root; or --host-netns)" % os.strerror(ctypes.get_errno()))
        netns = os.readlink("/proc/self/ns/net")
    directory = tempfile.mkdtemp(prefix="unwedge-unix-farm-")
    conns_total = {"accepted": a.sockets // 2, "socketpair": 0, "mixed": a.sockets // 4}[a.shape]
    pairs_total = a.sockets // 2 - conns_total
    split = lambda n, i: n // a.procs + (1 if i < n % a.procs else 0)
    r, w = os.pipe()
    kids = []
    for i in range(a.procs):
        pid = os.fork()
        if pid == 0:
            os.close(r)
            worker(i, split(conns_total, i), split(pairs_total, i), a.queued if i == 0 else 0, directory, a.ttl, w)
            os._exit(0)
        kids.append(pid)
    os.close(w)
    got = 0
    deadline = time.time() + 600
    while got < a.procs and time.time() < deadline:
        chunk = os.read(r, 64)
        if not chunk:
            break
        got += len(chunk)
    with open(a.pidfile, "w") as f:
        json.dump({"dir": directory, "pids": {p: start_time(p) for p in kids}}, f)
    print("READY unix farm: %d sockets (%d accepted connections, %d socketpairs, %d waiting) in %d processes, netns %s"
          % (2 * (conns_total + pairs_total), conns_total, pairs_total, a.queued, a.procs, netns or "the host's"), flush=True)


def down(a):
    try:
        farm = json.load(open(a.pidfile))
    except FileNotFoundError:
        print("no unix farm is up")
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
    shutil.rmtree(farm["dir"], ignore_errors=True)
    os.unlink(a.pidfile)
    print("unix farm down (%d processes killed)" % killed)


ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
sub = ap.add_subparsers(dest="cmd", required=True)
u = sub.add_parser("up")
u.add_argument("--sockets", type=int, default=50000)
u.add_argument("--procs", type=int, default=10)
u.add_argument("--shape", choices=["accepted", "socketpair", "mixed"], default="accepted")
u.add_argument("--queued", type=int, default=0, help="connections waiting on one listener nobody accepts on")
u.add_argument("--host-netns", action="store_true", help="in the host's namespace, not a new one")
u.add_argument("--ttl", type=int, default=900, help="seconds before the farm kills itself")
u.add_argument("--pidfile", default=PIDFILE)
d = sub.add_parser("down")
d.add_argument("--pidfile", default=PIDFILE)
args = ap.parse_args()
{"up": up, "down": down}[args.cmd](args)
