"""A CPU-bound server in a cpu cgroup (--cgroup DIR, made by the test with a
small CFS quota): each request (a line) costs --burn-ms of CPU before the
answer. Under load, the quota runs out every period and connections wait in
its accept queue. --batch: no socket at all, only the CPU burning (a batch
job nobody waits on).

READY {"pid", "port"}
"""
import argparse, socket, time
from _scn import join_cgroup, ready, self_destruct

ap = argparse.ArgumentParser()
ap.add_argument("--cgroup", action="append", default=[])
ap.add_argument("--burn-ms", type=float, default=20)
ap.add_argument("--batch", action="store_true")
args = ap.parse_args()
for c in args.cgroup:
    join_cgroup(c)
self_destruct()


def burn(ms):
    end = time.thread_time() + ms / 1000
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


if args.batch:
    ready(port=None)
    while True:
        burn(100)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
ready(port=srv.getsockname()[1])
while True:
    c, _ = srv.accept()
    with c:
        try:
            if c.recv(64):
                burn(args.burn_ms)
                c.sendall(b"PONG\n")
        except OSError:
            pass
