"""A one-request-at-a-time TCP server whose requests cost CPU, for
busy_thread and cpu_starved (--cgroup DIR: a cpu cgroup the recorder made
with the largest weight, so that the host's other load does not decide
what the scenario shows).

--redos: the server sends itself one request whose handler runs a regular
expression with catastrophic backtracking (re.match of (a+)+$ on 34 a's and
a "!": minutes of CPU), then three clients that connect behind it and wait
in the accept queue; READY once its thread has spun for a while.
--burn-ms N: every request (a line) costs N ms of CPU before its answer;
the recorder's clients keep it busy.
--pin CPU: this process and its hogs run on that CPU only.
--hogs N: N children (named cpu-hog) spin on the same CPU.

READY {"pid", "port", "hogs"}
"""
import argparse, ctypes, os, re, signal, socket, time
from _scn import join_cgroup, ready


def self_destruct(seconds=120):
    """Dies with a crashed recorder: SIGALRM's default action, and no
    thread of its own (each process here is single-threaded)."""
    signal.alarm(seconds)

ap = argparse.ArgumentParser()
ap.add_argument("--cgroup", action="append", default=[])
ap.add_argument("--redos", action="store_true")
ap.add_argument("--burn-ms", type=float, default=20)
ap.add_argument("--pin", type=int)
ap.add_argument("--hogs", type=int, default=0)
args = ap.parse_args()
for c in args.cgroup:
    join_cgroup(c)
if args.pin is not None:
    os.sched_setaffinity(0, {args.pin})


def hog():
    pid = os.fork()
    if pid:
        return pid
    ctypes.CDLL(None).prctl(15, b"cpu-hog", 0, 0, 0)  # PR_SET_NAME
    self_destruct()
    while True:
        pass


hogs = [hog() for _ in range(args.hogs)]
self_destruct()


def burn(ms):
    end = time.thread_time() + ms / 1000
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


def handle(c):
    line = c.recv(256)
    if line.startswith(b"REDOS"):
        re.match(r"(a+)+$", "a" * 34 + "!")
    elif line:
        burn(args.burn_ms)
    c.sendall(b"done\n")


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
port = srv.getsockname()[1]
if args.redos and os.fork() == 0:
    # The client side, in a child: the server's one thread will hold the
    # GIL inside re.match for minutes.
    server = os.getppid()
    srv.close()  # the listener is the server's alone
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"REDOS\n")

    def cpu():
        with open("/proc/%d/task/%d/stat" % (server, server)) as f:
            return sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])

    start = cpu()
    while cpu() - start < 50:  # half a second of CPU in the handler
        time.sleep(0.05)
    queued = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    for q in queued:
        q.sendall(b"PING\n")
    ready(pid=server, port=port, hogs=hogs)
    self_destruct()
    while True:
        time.sleep(3600)
if not args.redos:
    ready(port=port, hogs=hogs)
while True:
    c, _ = srv.accept()
    with c:
        try:
            handle(c)
        except OSError:
            pass
