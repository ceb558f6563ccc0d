"""Source ports run out: in a network namespace of its own with a tiny
net.ipv4.ip_local_port_range (and tcp_tw_reuse off), a client makes short
connections (connect, one request, read the answer, close first: the client
keeps the TIME-WAIT) to a server, until connect() fails with
EADDRNOTAVAIL. Four connections stay open, so the client owns live ones too.

With --pool (the healthy twin) the client instead keeps 4 keep-alive
connections and sends requests over them without end: a busy client on a
few ports.

READY {"pid", "server_pid", "port", "connects", "failed": "EADDRNOTAVAIL"|null, "range"}
"""
import argparse, errno, os, socket, threading, time
from _scn import own_netns, ready, self_destruct, sysctl, park

ap = argparse.ArgumentParser()
ap.add_argument("--range", nargs=2, type=int, default=[40000, 40063])
ap.add_argument("--pool", action="store_true")
args = ap.parse_args()
own_netns()
sysctl("net.ipv4.ip_local_port_range", "%d %d" % tuple(args.range))
sysctl("net.ipv4.tcp_tw_reuse", 0)
self_destruct()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 8080))  # a namespace of our own: any port is free
srv.listen(512)
port = srv.getsockname()[1]
server_pid = os.fork()
if server_pid == 0:
    # The server: answers each line, closes once the client has (so the
    # client, which closes first, holds the TIME-WAIT).
    def serve(c):
        with c:
            while True:
                data = c.recv(64)
                if not data:
                    return
                c.sendall(b"OK\n")
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
srv.close()

def request(c):
    c.sendall(b"GET\n")
    return c.recv(16)

held = []
for _ in range(4):
    c = socket.create_connection(("127.0.0.1", port))
    request(c)
    held.append(c)

connects, failed = 0, None
if args.pool:
    # Busy, but over the same four connections.
    for _ in range(2000):
        for c in held:
            request(c)
            connects += 1
    def keep_busy():
        while True:
            for c in held:
                request(c)
            time.sleep(0.001)
    threading.Thread(target=keep_busy, daemon=True).start()
else:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", port))
        except OSError as e:
            c.close()
            if e.errno == errno.EADDRNOTAVAIL:
                failed = "EADDRNOTAVAIL"
                break
            raise
        request(c)
        c.close()
        connects += 1
ready(server_pid=server_pid, port=port, connects=connects, failed=failed, range=args.range)
park()
