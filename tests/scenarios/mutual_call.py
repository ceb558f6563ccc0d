"""Two small servers that call each other (issue 22): A's handler for `/`
asks B for `/`, B's handler for `/` asks A for `/leaf`, and `/leaf` is
answered at once. Each server is its own process with a fixed pool of
--workers threads, every one of them blocking in accept() on the shared
listener when idle (a pre-threaded server).

    mutual_call.py deadlock   --workers 1 (default) and --clients 2: A's
                              only worker waits on B, B's only worker waits
                              on A, whose queue holds B's call: a cycle
                              across processes that never unwinds
    mutual_call.py healthy    --workers 4 and a client that asks A for `/`
                              in a loop: every call chain A -> B -> A/leaf
                              completes, the cycle is there and answered

Prints READY {"pid": A, "a": port_a, "b": port_b, "b_pid": B, "client": pid}.
"""
import argparse, os, socket, threading, time
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["deadlock", "healthy"])
ap.add_argument("--workers", type=int, default=0)
ap.add_argument("--clients", type=int, default=2)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
self_destruct(args.seconds)
workers = args.workers or (1 if args.mode == "deadlock" else 4)
ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"


def listener():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def read_head(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = c.recv(4096)
        if not chunk:
            return None
        buf += chunk
    return buf


def call(port, path):
    """Asks the other server; waits (no timeout: the bug) for its whole answer."""
    with socket.create_connection(("127.0.0.1", port)) as u:
        u.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
        while u.recv(4096):
            pass


def serve(ls, other_port, name):
    """The pool: WORKERS threads, each accepting and handling one request at a time."""
    def worker():
        while True:
            c, _ = ls.accept()
            try:
                head = read_head(c)
                if head is None:
                    continue
                if head.startswith(b"GET / "):
                    call(other_port, "/" if name == "a" else "/leaf")
                c.sendall(ANSWER)
            except OSError:
                pass
            finally:
                c.close()

    for i in range(workers):
        threading.Thread(target=worker, daemon=True, name="%s-worker-%d" % (name, i)).start()
    park()


la, lb = listener(), listener()
pa, pb = la.getsockname()[1], lb.getsockname()[1]
b_pid = os.fork()
if b_pid == 0:
    self_destruct(args.seconds)
    la.close()
    serve(lb, pa, "b")
lb.close()
threading.Thread(target=serve, args=(la, pb, "a"), daemon=True).start()


def clients():
    pid = os.fork()
    if pid:
        return pid
    self_destruct(args.seconds)
    la.close()
    if args.mode == "deadlock":
        held = []
        for _ in range(args.clients):
            c = socket.create_connection(("127.0.0.1", pa))
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            held.append(c)
        park()
    while True:
        try:
            call(pa, "/")
        except OSError:
            pass
        time.sleep(0.01)


client = clients()
ready(a=pa, b=pb, b_pid=b_pid, client=client)
park()
