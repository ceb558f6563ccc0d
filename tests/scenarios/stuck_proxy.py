"""Story 1: a proxy process whose main thread joins its upstream thread
(a futex wait), which waits in recv on an idle keep-alive upstream that
never sends nor closes, while the client's request waits unread.

READY {"pid": pid, "pump_tid": tid, "upstream_port": p, "client_fd": fd}"""
import os, socket, threading
from _proc_scn import name_thread, park, ready, watchdog

watchdog()
up = socket.socket()
up.bind(("127.0.0.1", 0))
up.listen(4)
up_port = up.getsockname()[1]
if os.fork() == 0:  # the origin: keeps the connection open, never sends
    conn, _ = up.accept()
    park()
up.close()
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(4)
port = lst.getsockname()[1]
if os.fork() == 0:  # the client: sends its next request, never reads
    lst.close()
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"GET /big.pdf HTTP/1.1\r\nHost: origin\r\n\r\n")
    park()
client, _ = lst.accept()
upstream = socket.create_connection(("127.0.0.1", up_port))
info = {}
started = threading.Event()


def pump():
    name_thread("upstream-pump")
    info["pump_tid"] = threading.get_native_id()
    started.set()
    upstream.recv(65536)


t = threading.Thread(target=pump)
t.start()
started.wait()
ready(upstream_port=up_port, client_fd=client.fileno(), **info)
t.join()
