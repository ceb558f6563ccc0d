"""A SYN flood against a listener with a small backlog, confined to a
network namespace of its own: the listener is on 10.99.0.1 (on loopback),
and a raw socket sends SYNs from random 10.98.x.y sources, whose SYN-ACKs
leave through a veth pair towards a MAC nobody has: nothing ever answers.
Half-open connections (SYN-RECV) pile up to the backlog; the flood goes
on (--rate SYNs per second) so the kernel's SYN-queue counters keep rising.
The listener accepts whatever completes (nothing does).

--syncookies 0|1 sets net.ipv4.tcp_syncookies in the namespace.
--healthy: no flood; 4 real clients connect, send a line, read, close, in a
loop: handshakes that complete, a SYN queue that stays nearly empty.

READY {"pid", "port", "addr", "syn_recv"}
"""
import argparse, os, random, socket, struct, subprocess, threading, time
from _scn import own_netns, ready, self_destruct, sysctl, park

ap = argparse.ArgumentParser()
ap.add_argument("--backlog", type=int, default=8)
ap.add_argument("--syncookies", type=int, default=1)
ap.add_argument("--rate", type=int, default=200)
ap.add_argument("--healthy", action="store_true")
args = ap.parse_args()
own_netns()
# The listener's address on loopback. The spoofed sources (10.98.x.y) are
# routed over a veth pair to a gateway whose MAC nothing has: the SYN-ACKs
# leave and vanish, nothing ever answers (a blackhole route would make the
# kernel drop the SYN itself, for want of a route back).
for cmd in ("ip addr add 10.99.0.1/32 dev lo", "ip link add uw0 type veth peer name uw1", "ip link set uw0 up",
            "ip link set uw1 up", "ip addr add 10.97.0.1/24 dev uw0",
            "ip neigh add 10.97.0.2 lladdr 02:00:00:00:00:02 dev uw0 nud permanent",
            "ip route add 10.98.0.0/16 via 10.97.0.2"):
    subprocess.run(cmd.split(), check=True)
sysctl("net.ipv4.tcp_syncookies", args.syncookies)
self_destruct()

ADDR, PORT = "10.99.0.1", 8080
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ADDR, PORT))
srv.listen(args.backlog)


def serve():
    while True:
        c, _ = srv.accept()
        try:
            if c.recv(64):
                c.sendall(b"OK\n")
        except OSError:
            pass
        c.close()


threading.Thread(target=serve, daemon=True).start()


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def syn(src, sport, dst, dport):
    seq = random.getrandbits(32)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def flood():
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    gap = 1.0 / max(args.rate, 1)
    while True:
        src = "10.98.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
        raw.sendto(syn(src, random.randint(1024, 65535), ADDR, PORT), (ADDR, 0))
        time.sleep(gap)


def clients():
    while True:
        try:
            with socket.create_connection((ADDR, PORT), timeout=5) as c:
                c.sendall(b"GET\n")
                c.recv(16)
        except OSError:
            pass
        time.sleep(0.01)


def syn_recv():
    n = 0
    for f in ("/proc/self/net/tcp",):
        for line in open(f).readlines()[1:]:
            parts = line.split()
            if parts[3] == "03" and parts[1].endswith(":%04X" % PORT):
                n += 1
    return n


if args.healthy:
    for _ in range(4):
        threading.Thread(target=clients, daemon=True).start()
    time.sleep(1)
else:
    threading.Thread(target=flood, daemon=True).start()
    deadline = time.monotonic() + 20
    while syn_recv() < args.backlog and time.monotonic() < deadline:
        time.sleep(0.05)
ready(port=PORT, addr=ADDR, syn_recv=syn_recv())
park()
