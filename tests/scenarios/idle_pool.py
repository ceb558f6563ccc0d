"""Healthy twin of stuck_proxy: a thread pool idling on a condition
variable, a listener with no clients, nothing to do.

READY {"pid": pid, "port": port}"""
import socket, threading
from _proc_scn import park, ready, watchdog

watchdog()
cond = threading.Condition()


def worker():
    with cond:
        cond.wait()


for _ in range(4):
    threading.Thread(target=worker, daemon=True).start()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
ready(port=srv.getsockname()[1])
park()
