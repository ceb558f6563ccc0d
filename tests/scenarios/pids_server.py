"""A forking server in a pids cgroup (--cgroup DIR, made by the test): one
child per connection, which answers and then holds its connection open.
At the cgroup's pids.max, fork() fails with EAGAIN; the server keeps the
connection and retries every 200 ms (each retry is another refusal counted
in pids.events), so its clients wait, unanswered.

READY {"pid", "port"}; prints "FORK-FAILED n" lines as forks fail.
"""
import argparse, errno, os, select, signal, socket, time
from _scn import join_cgroup, ready, self_destruct

ap = argparse.ArgumentParser()
ap.add_argument("--cgroup", action="append", default=[])
args = ap.parse_args()
for c in args.cgroup:
    join_cgroup(c)
self_destruct()
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(64)
ready(port=srv.getsockname()[1])

pending, failed = [], 0
while True:
    r, _, _ = select.select([srv], [], [], 0.2)
    if r:
        c, _ = srv.accept()
        pending.append(c)
    still = []
    for c in pending:
        try:
            pid = os.fork()
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
            failed += 1
            print("FORK-FAILED %d" % failed, flush=True)
            still.append(c)
            continue
        if pid == 0:
            srv.close()
            try:
                c.recv(64)
                c.sendall(b"OK\n")
            except OSError:
                pass
            while True:
                time.sleep(3600)
        c.close()
    pending = still
