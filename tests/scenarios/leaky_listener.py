"""Story 2: a listener that accepts connections and never closes them.
Its clients (in this process) connect and close at once, so every accepted
socket ends in CLOSE-WAIT. --read-eof reads each connection to EOF first
(the "read EOF, forgot close()" variant). Each SIGUSR1 leaks --count more
(the leak getting worse, for `unwedge watch`); --name sets the process name
(comm) with prctl(PR_SET_NAME), e.g. to a hostile "<script>x". --no-request:
the clients connect and close without a byte (a TCP health check): a FIN
is not a request."""
import argparse, ctypes, signal, socket, threading
from _scn import ready, self_destruct

ap = argparse.ArgumentParser()
ap.add_argument("--count", type=int, default=60)
ap.add_argument("--read-eof", action="store_true")
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--name")
ap.add_argument("--no-request", action="store_true")
args = ap.parse_args()
self_destruct()
if args.name:
    PR_SET_NAME = 15
    ctypes.CDLL(None).prctl(PR_SET_NAME, args.name.encode()[:15], 0, 0, 0)

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


def leak(total):
    for _ in range(total - len(leaked)):
        cl = socket.create_connection((args.host, port), timeout=5)
        if not args.no_request:
            cl.sendall(b"GET / HTTP/1.0\r\n\r\n")
        cl.close()
    while len(leaked) < total:
        threading.Event().wait(0.01)


threading.Thread(target=serve, daemon=True).start()
leak(args.count)
grow = threading.Event()
signal.signal(signal.SIGUSR1, lambda *_: grow.set())
ready(port=port, count=args.count)
while True:
    grow.wait()
    grow.clear()
    leak(len(leaked) + args.count)
    print("GREW %d" % len(leaked), flush=True)
