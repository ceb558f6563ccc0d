"""Healthy twin: a threaded echo server under concurrent load whose handlers
close every connection. Load runs (bounded) for --seconds."""
import argparse, socket, threading, time
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=20)
ap.add_argument("--clients", type=int, default=8)
args = ap.parse_args()
self_destruct()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(128)
port = srv.getsockname()[1]


def handle(c):
    with c:
        while True:
            d = c.recv(4096)
            if not d:
                return
            c.sendall(d)


def accept_loop():
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def client(stop):
    while time.time() < stop:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for _ in range(5):
                s.sendall(b"ping")
                s.recv(16)


threading.Thread(target=accept_loop, daemon=True).start()
stop = time.time() + args.seconds
for _ in range(args.clients):
    threading.Thread(target=client, args=(stop,), daemon=True).start()
ready(port=port)
park()
