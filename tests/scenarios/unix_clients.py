"""Unix-socket servers whose clients wait by design (issue 22's healthy
twins): nothing here is stuck, and nothing may be reported.

    unix_clients.py bus   a D-Bus-like bus: an event loop (select) with
                          --clients connections from a client process,
                          each said hello, got its answer and idles
    unix_clients.py api   a docker.sock-like API: a thread per connection;
                          --clients long-poll /events (held until an event
                          that does not come, a few client threads blocked
                          reading), while another client asks /info in a
                          loop and is answered

Prints READY {"pid": server, "path": socket, "dir": D, "client": pid}.
"""
import argparse, os, select, shutil, signal, socket, tempfile, threading, time
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["bus", "api"])
ap.add_argument("--clients", type=int, default=200)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
self_destruct(args.seconds)
d = tempfile.mkdtemp(prefix="unwedge-unix-")
path = os.path.join(d, "bus.sock" if args.mode == "bus" else "api.sock")
ls = socket.socket(socket.AF_UNIX)
ls.bind(path)
ls.listen(64)


def bus():
    conns = [ls]
    while True:
        r, _, _ = select.select(conns, [], [])
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                conns.append(c)
                continue
            data = s.recv(4096)
            if not data:
                conns.remove(s)
                s.close()
            else:
                s.sendall(b"OK\n")


events = threading.Event()  # never set: a long poll waits for ever


def api():
    def handle(c):
        with c:
            req = c.recv(4096)
            if req.startswith(b"GET /events"):
                c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                events.wait()
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def clients():
    pid = os.fork()
    if pid:
        return pid
    self_destruct(args.seconds)
    ls.close()
    held = []
    for _ in range(args.clients):
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.sendall(b"HELLO\n" if args.mode == "bus" else b"GET /events HTTP/1.1\r\nHost: d\r\n\r\n")
        c.recv(4096)  # the bus's answer, or the long poll's headers
        held.append(c)
    if args.mode == "api":
        for c in held[:4]:
            threading.Thread(target=c.recv, args=(4096,), daemon=True).start()

        def info():
            while True:
                with socket.socket(socket.AF_UNIX) as c:
                    c.connect(path)
                    c.sendall(b"GET /info HTTP/1.1\r\nHost: d\r\n\r\n")
                    c.recv(4096)
                time.sleep(0.05)

        threading.Thread(target=info, daemon=True).start()
    park()


def cleanup(*_):
    shutil.rmtree(d, ignore_errors=True)
    os._exit(0)


signal.signal(signal.SIGTERM, cleanup)
client = clients()
threading.Thread(target=bus if args.mode == "bus" else api, daemon=True).start()
ready(path=path, dir=d, client=client)
park()
