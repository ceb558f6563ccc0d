"""Story 1's pile-up: a proxy that forks a worker per client connection (as
DeleGate does). Each worker connects to the origin, relays the request from
a "filter" thread that then keeps reading the origin, and its main thread
joins that thread. The origin answers with Content-Length and keeps the
connection alive, so after the client got its answer and hung up the
filter thread waits in recv forever, the main thread waits in the join
(futex), and the client socket sits in CLOSE-WAIT. N clients leave N
workers piled up, each stuck the same way.

    forking_proxy.py [--workers N] [--gap SECONDS] [--idle]

--idle: no client at all; the master waits in accept (a healthy twin).

READY {"pid": master, "port": proxy port, "origin_port": p, "origin": pid,
       "workers": [pids]}"""
import os, socket, sys, threading, time
from _proc_scn import name_thread, park, ready, wait_for, watchdog


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


workers_wanted = arg("--workers", 6)
gap = arg("--gap", 0.3)
watchdog(120)

# The origin: a thread per connection, answers each request with
# Content-Length and keeps the connection open for the next one.
origin = socket.socket()
origin.bind(("127.0.0.1", 0))
origin.listen(64)
origin_port = origin.getsockname()[1]
origin_pid = os.fork()
if origin_pid == 0:

    def serve(c):
        while True:
            data = c.recv(65536)
            if not data:
                return
            body = b"%PDF-1.4 pretend this is a large binary\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    while True:
        c, _ = origin.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
origin.close()

lst = socket.socket()
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("127.0.0.1", 0))
lst.listen(16)
port = lst.getsockname()[1]


def worker(client):
    """One connection: relay through a filter thread, join it, exit."""
    up = socket.create_connection(("127.0.0.1", origin_port))

    def filter_thread():
        name_thread("tls-filter")
        up.sendall(client.recv(65536))
        # Relay the answer, then wait for the origin to close (it never does).
        while True:
            data = up.recv(65536)
            if not data:
                return
            client.sendall(data)

    t = threading.Thread(target=filter_thread)
    t.start()
    t.join()
    os._exit(0)


def accept_loop():
    """The master: a worker per accepted connection; the worker keeps the
    listening socket (as DeleGate's did), the master closes its copy of the
    connection."""
    while True:
        c, _ = lst.accept()
        pid = os.fork()
        if pid == 0:
            worker(c)
        c.close()
        pids.append(pid)


pids = []
if "--idle" in sys.argv:
    ready(port=port, origin_port=origin_port, origin=origin_pid, workers=[])
    accept_loop()

# Clients live in a process of their own (the scan must see the master alone
# in accept): each sends a request, reads the answer, hangs up.
cr, cw = os.pipe()
if os.fork() == 0:
    os.close(cr)
    lst.close()
    for _ in range(workers_wanted):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /big.pdf HTTP/1.1\r\nHost: origin\r\n\r\n")
        c.recv(65536)
        c.close()
        time.sleep(gap)
    os.write(cw, b"x")
    park()
os.close(cw)
threading.Thread(target=accept_loop, daemon=True).start()
os.read(cr, 1)


def filter_waiting(pid):
    # Each worker's filter thread has sent the request and sits in recv.
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            if tid != str(pid):
                with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                    if f.read().strip() in ("wait_woken", "sk_wait_data"):
                        return True
    except OSError:
        pass
    return False


wait_for(lambda: len(pids) == workers_wanted and all(filter_waiting(p) for p in pids))
ready(port=port, origin_port=origin_port, origin=origin_pid, workers=pids)
park()
