"""Healthy twin of stuck_thread (seen with Redis under redis-benchmark): a
single-threaded event loop too busy to read every client within a second —
it burns 50 ms of CPU per request — while its helper threads idle on a
condition variable. Client bytes sit unread across a scan's interval, and
the helpers never move, but the loop thread runs: the process is working,
not stuck.

READY {"pid": pid, "port": port}"""
import selectors, socket, threading, time
from _scn import ready, self_destruct

self_destruct()
cond = threading.Condition()


def helper():
    with cond:
        cond.wait()


for _ in range(3):
    threading.Thread(target=helper, daemon=True).start()

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(128)
srv.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ)
ready(port=srv.getsockname()[1])
while True:
    for key, _ in sel.select():
        if key.fileobj is srv:
            conn, _ = srv.accept()
            sel.register(conn, selectors.EVENT_READ)
            continue
        conn = key.fileobj
        until = time.monotonic() + 0.05
        while time.monotonic() < until:  # the request's work: CPU, not sleep
            pass
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if not data:
            sel.unregister(conn)
            conn.close()
            continue
        conn.sendall(b"+PONG\r\n")
