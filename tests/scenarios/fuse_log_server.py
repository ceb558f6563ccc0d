"""A threaded server whose handlers append an access-log line to a file on a
FUSE filesystem (issue 22), and its healthy twin (run as root).

    fuse_log_server.py DAEMON MOUNTPOINT hang   the FUSE daemon never answers
                                                a write: the first handler
                                                waits in request_wait_answer,
                                                the others queue behind it
    fuse_log_server.py DAEMON MOUNTPOINT slow   healthy: every write is
                                                answered after 300 ms

DAEMON: the built tests/scenarios/fuse_log.c; it is started here on
MOUNTPOINT (an empty directory) in the foreground, as a child. The caller
unmounts (fusermount3 -u -z) when done. The server opens the log once
(O_APPEND, one fd shared by every thread, as a logging library does) and
answers each request line after logging it. --clients N connect and send a
request; in `slow` mode each asks again as soon as it is answered. Prints
READY {"pid": server, "daemon": pid, "port": P, "clients": pid}.
"""
import argparse, os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("daemon")
ap.add_argument("mountpoint")
ap.add_argument("mode", choices=["hang", "slow"])
ap.add_argument("--clients", type=int, default=4)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
self_destruct(args.seconds)
threading.Timer(args.seconds - 1, lambda: os.killpg(0, 9)).start()

env = dict(os.environ, FUSELOG_MODE=args.mode, FUSELOG_DELAY_MS="300")
daemon = subprocess.Popen([args.daemon, "-f", args.mountpoint], env=env)
log = os.path.join(args.mountpoint, "access.log")
deadline = time.monotonic() + 10
while not os.path.exists(log):
    if time.monotonic() > deadline or daemon.poll() is not None:
        sys.exit("the FUSE daemon did not mount %s" % args.mountpoint)
    time.sleep(0.05)
fd = os.open(log, os.O_WRONLY | os.O_APPEND)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
port = srv.getsockname()[1]


def handle(c):
    with c:
        f = c.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                return
            os.write(fd, b"%.3f GET %s\n" % (time.time(), line.strip()))
            c.sendall(b"ok\n")


def serve():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


threading.Thread(target=serve, daemon=True).start()

pid = os.fork()
if pid == 0:
    def client(i):
        c = socket.create_connection(("127.0.0.1", port))
        while True:
            c.sendall(b"/item/%d\n" % i)
            if not c.recv(64):
                return
            if args.mode == "hang":
                return

    for i in range(args.clients):
        threading.Thread(target=client, args=(i,), daemon=True).start()
        time.sleep(0.1)
    park()
ready(daemon=daemon.pid, port=port, clients=pid)
park()
