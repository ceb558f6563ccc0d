"""A thread-per-connection file server (issue 14's peer_not_reading): each
request (one line) is answered with --mb MiB written with blocking
sendall() and no send timeout.

    slow_reader.py --clients N --mode stuck   N clients ask and never read:
                                              each handler thread blocks in
                                              send on a zero window
    slow_reader.py --clients N --mode fast    N clients download in a loop
                                              as fast as they can (healthy)

The clients run in a child process (another program to the kernel).
Prints READY {"port": P, "pid": ..., "client": pid} once the clients started.
"""
import argparse, os, socket, threading, time
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("--clients", type=int, default=4)
ap.add_argument("--mode", choices=["stuck", "fast"], default="stuck")
ap.add_argument("--mb", type=int, default=64)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
self_destruct(args.seconds)
CHUNK = b"x" * (1 << 20)


def handle(c):
    try:
        f = c.makefile("rb")
        if not f.readline():
            return
        for _ in range(args.mb):
            c.sendall(CHUNK)  # blocks while the peer does not read: no send timeout
    except OSError:
        pass
    finally:
        c.close()


ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(64)
port = ls.getsockname()[1]


def accept_loop():
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True, name="sender").start()


threading.Thread(target=accept_loop, daemon=True, name="acceptor").start()

pid = os.fork()
if pid == 0:
    self_destruct(args.seconds)
    ls.close()
    held = []
    if args.mode == "stuck":
        for _ in range(args.clients):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"GET /big\n")
            held.append(c)  # never read
        park()

    def download():
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    c.sendall(b"GET /big\n")
                    while c.recv(1 << 20):
                        pass
            except OSError:
                time.sleep(0.05)

    for _ in range(args.clients):
        threading.Thread(target=download, daemon=True).start()
    park()

ready(port=port, client=pid)
park()
