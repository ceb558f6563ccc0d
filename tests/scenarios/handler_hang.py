"""A server that accepts, reads each request and, depending on MODE, never
answers (issue 14) or answers as it should. One request = one line or an
HTTP head ending in a blank line; the answer is `HTTP/1.0 200 OK` + body.

    handler_hang.py lock       thread per connection; handlers need lock A,
                               which two threads hold in an ABBA deadlock
    handler_hang.py upstream   a pool of --workers threads; each handler asks
                               an upstream (a child process that accepts, reads
                               and never answers) over its own connection
    handler_hang.py pipe       handlers log 64 KiB per request to a pipe whose
                               reader (a child) is SIGSTOPped: the pipe fills
    handler_hang.py dns        handlers resolve a name first; the nameserver
                               (127.0.0.1:53, a silent socket this script binds:
                               run it in a network namespace whose
                               /etc/resolv.conf says `nameserver 127.0.0.1`)
                               never answers
    handler_hang.py longpoll   healthy: /wait is held until an event that does
                               not come; every other path is answered at once
    handler_hang.py fixed      healthy: the lock mode without the deadlock

--clients N: a client child opens N connections at start, each sends one
request and waits; --every S: it also opens one more every S seconds
(`/wait` requests in longpoll mode keep waiting while the others, `/now`,
are answered). Prints READY {"port": P, "pid": ..., "upstream": port,
"reader": pid, "client": pid}.
"""
import argparse, os, queue, signal, socket, sys, threading, time
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("mode", choices=["lock", "upstream", "pipe", "dns", "longpoll", "fixed"])
ap.add_argument("--clients", type=int, default=0)
ap.add_argument("--every", type=float, default=0)
ap.add_argument("--workers", type=int, default=8)
ap.add_argument("--seconds", type=int, default=120)
args = ap.parse_args()
self_destruct(args.seconds)

ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
lock_a, lock_b = threading.Lock(), threading.Lock()
event = threading.Event()  # the long-poll event; never set


def read_request(c):
    buf = b""
    while b"\r\n\r\n" not in buf and b"\n" not in buf:
        chunk = c.recv(4096)
        if not chunk:
            return None
        buf += chunk
    return buf


def deadlock():
    """Two threads take A and B in opposite orders: both wait forever."""
    barrier = threading.Barrier(2)

    def ab(first, second):
        with first:
            barrier.wait()
            with second:
                pass

    threading.Thread(target=ab, args=(lock_a, lock_b), daemon=True, name="ab").start()
    threading.Thread(target=ab, args=(lock_b, lock_a), daemon=True, name="ba").start()


def upstream_server():
    """A child that accepts, reads each request and never answers."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        self_destruct(args.seconds)
        os.close(r)
        os.write(w, str(ls.getsockname()[1]).encode())
        os.close(w)
        held = []
        while True:
            c, _ = ls.accept()
            c.recv(4096)
            held.append(c)
    os.close(w)
    port = int(os.read(r, 16))
    os.close(r)
    ls.close()
    return pid, port


def log_pipe():
    """stdout-like log pipe to a reader child, which is then stopped."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        while os.read(r, 65536):
            pass
        os._exit(0)
    os.close(r)
    os.kill(pid, signal.SIGSTOP)
    return pid, w


def handle(c, state):
    try:
        req = read_request(c)
        if req is None:
            return
        mode = args.mode
        if mode in ("lock", "fixed"):
            with lock_a:
                c.sendall(ANSWER)
        elif mode == "upstream":
            up = state["up"]
            up.sendall(b"SELECT 1;\n")
            up.recv(4096)  # never returns: the upstream does not answer
            c.sendall(ANSWER)
        elif mode == "dns":
            socket.getaddrinfo("db.internal.test", 5432)  # glibc waits for 127.0.0.1:53
            c.sendall(ANSWER)
        elif mode == "pipe":
            os.write(state["log"], b"x" * 65535 + b"\n")
            c.sendall(ANSWER)
        elif mode == "longpoll":
            if req.startswith(b"GET /wait"):
                event.wait()
            c.sendall(ANSWER)
    except OSError:
        pass
    finally:
        c.close()


info = {}
log_fd = None
if args.mode == "pipe":
    info["reader"], log_fd = log_pipe()
up_port = None
if args.mode == "dns":
    silent_dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent_dns.bind(("127.0.0.1", 53))  # receives every query, answers none
if args.mode == "upstream":
    info["upstream_pid"], up_port = upstream_server()
    info["upstream"] = up_port

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(128)
port = ls.getsockname()[1]

def clients():
    """A child process: N waiting clients, then one more every --every s.
    In longpoll mode the waiting ones ask /wait and a second stream of
    clients asks /now every 0.5 s (answered)."""
    pid = os.fork()
    if pid:
        return pid
    self_destruct(args.seconds)
    ls.close()  # the clients are another program: they hold no listener
    held = []
    wait_req = b"GET /wait HTTP/1.0\r\n\r\n" if args.mode == "longpoll" else b"GET / HTTP/1.0\r\n\r\n"

    def one(req):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(req)
            held.append(c)
            return c
        except OSError:
            return None

    for _ in range(args.clients):
        one(wait_req)
    if args.mode == "longpoll":
        def served():
            while True:
                c = one(b"GET /now HTTP/1.0\r\n\r\n")
                if c is not None:
                    try:
                        c.recv(4096)
                    except OSError:
                        pass
                    c.close()
                    held.remove(c)
                time.sleep(0.5)
        threading.Thread(target=served, daemon=True).start()
    while True:
        if args.every > 0:
            time.sleep(args.every)
            one(wait_req)
        else:
            time.sleep(3600)


# Every child is forked before this process starts a thread (but
# self_destruct's, asleep): a child forked while another thread holds a lock
# finds it held forever. The pool workers' first create_connection imports
# encodings.idna under its module lock; a clients child forked during that
# import hung in its own first connect, so the pool server got no request.
if args.clients or args.every:
    info["client"] = clients()
if args.mode == "lock":
    deadlock()

if args.mode == "upstream":
    # A fixed pool of workers, each with its own upstream connection.
    jobs = queue.Queue()

    def worker():
        state = {"up": socket.create_connection(("127.0.0.1", up_port))}
        while True:
            handle(jobs.get(), state)

    for i in range(args.workers):
        threading.Thread(target=worker, daemon=True, name="worker-%d" % i).start()

    def accept_loop():
        while True:
            c, _ = ls.accept()
            jobs.put(c)
else:
    def accept_loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c, {"log": log_fd}), daemon=True).start()

threading.Thread(target=accept_loop, daemon=True, name="acceptor").start()

ready(port=port, **info)
park()
