"""Healthy twin of stuck_proxy: a thread pool idling on a condition
variable, a listener with no clients, nothing to do. It also keeps a pooled
client connection whose server sent a goodbye and closed (CLOSE-WAIT, unread
bytes, client side): a connection pool does that for as long as it likes.

READY {"pid": pid, "port": port}"""
import os, socket, threading
from _proc_scn import park, ready, wait_for, watchdog

watchdog()
origin = socket.socket()
origin.bind(("127.0.0.1", 0))
origin.listen(4)
if os.fork() == 0:  # an origin that says goodbye and closes
    conn, _ = origin.accept()
    conn.sendall(b"GOAWAY")
    conn.close()
    park()
pooled = socket.create_connection(origin.getsockname())
origin.close()
cond = threading.Condition()


def worker():
    with cond:
        cond.wait()


for _ in range(4):
    threading.Thread(target=worker, daemon=True).start()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
# Ready once the origin's FIN arrived: the pooled socket is in CLOSE-WAIT.
wait_for(lambda: pooled.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == 8)  # tcpi_state
ready(port=srv.getsockname()[1])
park()
