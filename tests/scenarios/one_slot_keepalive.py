"""Story 3: a server with one connection slot (like Go's
netutil.LimitListener(l, 1)) that serves HTTP/1.1 keep-alive. Client A gets an
answer and keeps its connection open and idle; client B connects, sends its
request and waits in the accept queue forever."""
import socket, threading
from _scn import ready, self_destruct, park

self_destruct()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
port = srv.getsockname()[1]
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"


def serve():
    while True:
        conn, _ = srv.accept()  # the one slot
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                conn.sendall(RESP)
        conn.close()


threading.Thread(target=serve, daemon=True).start()
req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
a = socket.create_connection(("127.0.0.1", port), timeout=5)
a.sendall(req)
assert a.recv(4096).startswith(b"HTTP/1.1 200")
b = socket.create_connection(("127.0.0.1", port), timeout=5)
b.sendall(req)
ready(port=port)
park()
