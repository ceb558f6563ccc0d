"""Story 2's minefield going off, run inside a network namespace of its own
with net.ipv4.tcp_fin_timeout=1: a listener leaks 20 connections in
CLOSE-WAIT; once the clients' FIN-WAIT-2 halves have expired, new clients
handed the same source ports send SYNs into the stale 4-tuples (the kernel
answers each with a challenge ACK, the client resets the stale socket and
retries). After READY, one such colliding connect every 150 ms, 10 in all.

READY {"pid": pid, "port": port}"""
import socket, threading, time
from _scn import ready, self_destruct

self_destruct()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
port = srv.getsockname()[1]
held, ports = [], []
for _ in range(20):
    c = socket.socket()
    c.connect(("127.0.0.1", port))
    ports.append(c.getsockname()[1])
    s, _ = srv.accept()
    held.append(s)  # accepted, never closed
    c.close()  # the client's FIN: the server half sits in CLOSE-WAIT


def fin_wait2_left():
    # The clients' closed halves: FIN-WAIT-1 (04), FIN-WAIT-2 (05), then the kernel's
    # timewait stand-in for it (listed as 06) until tcp_fin_timeout passes.
    with open("/proc/net/tcp") as f:
        return sum(1 for line in f.readlines()[1:] if line.split()[3] in ("04", "05", "06"))


deadline = time.monotonic() + 15
while fin_wait2_left() and time.monotonic() < deadline:
    time.sleep(0.05)
ready(port=port)
time.sleep(0.3)
for p in ports[:10]:
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind(("127.0.0.1", p))
    c.settimeout(3)
    try:
        c.connect(("127.0.0.1", port))
    except OSError:
        pass
    c.close()
    time.sleep(0.15)
while True:
    time.sleep(3600)
