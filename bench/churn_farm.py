#!/usr/bin/env python3
"""Process churn for `serve` benchmarks: keeps --procs forked children
alive, each holding one loopback connection to this script's listener,
and replaces one every --interval/--per-interval seconds (the oldest is
killed, a new one forked and connected), so that --per-interval processes
start and as many exit in every serve interval. Loopback only; it stops
after --seconds (or on SIGTERM) and kills only the children it forked.

  bench/churn_farm.py [--procs 100] [--per-interval 100] [--interval 15] [--seconds 600]

For issue 24's "5 % of processes churning per interval" on the
2,070-process farm: --per-interval 100 (about 5 %).
"""
import argparse, os, signal, socket, sys, threading, time

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--procs", type=int, default=100)
ap.add_argument("--per-interval", type=int, default=100)
ap.add_argument("--interval", type=float, default=15.0)
ap.add_argument("--seconds", type=float, default=600.0)
a = ap.parse_args()

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1024)
port = srv.getsockname()[1]
held = []


def accept():
    while True:
        try:
            c, _ = srv.accept()
        except OSError:
            return
        held.append(c)
        if len(held) > 4 * a.procs:
            held.pop(0).close()


threading.Thread(target=accept, daemon=True).start()


def child():
    pid = os.fork()
    if pid == 0:
        try:
            srv.close()
            # An idle connection: no request left unanswered, no finding.
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            signal.alarm(int(a.seconds) + 60)
            while True:
                time.sleep(3600)
        finally:
            os._exit(0)
    return pid


kids = [child() for _ in range(a.procs)]
stop = time.time() + a.seconds
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
every = a.interval / max(1, a.per_interval)
replaced = 0
print("READY churn port=%d procs=%d every=%.3fs" % (port, a.procs, every), flush=True)
try:
    while time.time() < stop:
        time.sleep(every)
        old = kids.pop(0)
        os.kill(old, signal.SIGKILL)
        os.waitpid(old, 0)
        kids.append(child())
        replaced += 1
finally:
    for k in kids:
        try:
            os.kill(k, signal.SIGKILL)
            os.waitpid(k, 0)
        except OSError:
            pass
    print("replaced %d processes" % replaced, flush=True)
