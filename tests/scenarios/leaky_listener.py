"""Story 2: a listener that accepts connections and never closes them.
Its clients (in this process) connect and close at once, so every accepted
socket ends in CLOSE-WAIT. --read-eof reads each connection to EOF first
(the "read EOF, forgot close()" variant)."""
import argparse, socket, threading
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("--count", type=int, default=60)
ap.add_argument("--read-eof", action="store_true")
ap.add_argument("--host", default="127.0.0.1")
args = ap.parse_args()
self_destruct()

fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
srv = socket.socket(fam, socket.SOCK_STREAM)
srv.bind((args.host, 0))
srv.listen(128)
port = srv.getsockname()[1]
leaked = []  # never closed: that is the bug


def serve():
    while True:
        c, _ = srv.accept()
        if args.read_eof:
            while c.recv(4096):
                pass
        leaked.append(c)


threading.Thread(target=serve, daemon=True).start()
for _ in range(args.count):
    cl = socket.create_connection((args.host, port), timeout=5)
    cl.sendall(b"GET / HTTP/1.0\r\n\r\n")
    cl.close()
while len(leaked) < args.count:
    threading.Event().wait(0.01)
ready(port=port, count=args.count)
park()
