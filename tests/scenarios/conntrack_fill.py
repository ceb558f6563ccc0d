"""Fills the connection-tracking table of a network namespace of its own.

This kernel (6.18) keeps nf_conntrack_max global: a child namespace reads it
and may not write it (EACCES), while nf_conntrack_count is per namespace and
each namespace's count is checked against the global max. So the table is
filled for real, to the host's max (262144 here, ~85 MB of entries, ~3 s):
an iptables conntrack rule makes the namespace track, and a UDP socket sends
one datagram to each of (max + 10%) destinations on loopback. It then keeps
opening a few new flows per second, so early_drop (eviction of unreplied
entries to make room) keeps rising. Everything goes when the namespace dies
with this process; the host's own table is untouched.

--fill-pct P fills to P% of max instead (the healthy twin: 50).

READY {"pid", "count", "max"}
"""
import argparse, socket, subprocess, time
from _scn import own_netns, ready, self_destruct, park
import threading

ap = argparse.ArgumentParser()
ap.add_argument("--fill-pct", type=float, default=110)
args = ap.parse_args()
own_netns()
subprocess.run(["iptables", "-A", "OUTPUT", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"], check=True)
self_destruct()


def read(name):
    return int(open("/proc/sys/net/netfilter/" + name).read())


mx = read("nf_conntrack_max")
target = int(mx * args.fill_pct / 100)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)


def dests():
    for a in range(2, 255):
        for p in range(1, 65536):
            yield ("127.0.%d.%d" % (a // 250, a % 250 + 1), p)


it = dests()
sent = 0
while sent < target:
    try:
        s.sendto(b"x", next(it))
    except OSError:
        pass
    sent += 1


def trickle():
    if args.fill_pct < 100:
        return
    while True:
        try:
            s.sendto(b"x", next(it))
        except OSError:
            pass
        time.sleep(0.01)


threading.Thread(target=trickle, daemon=True).start()
ready(count=read("nf_conntrack_count"), max=mx)
park()
