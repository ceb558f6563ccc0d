"""A TLS HTTP/1.1 server (Python ssl) that answers each request and then
never reads again: the client's close_notify is never answered, as in story
1 where a proxy waited for its origin's TLS connection to close.

usage: probe_tls_server.py CERT KEY
Prints READY {"port": N}; each connection is held up to 30 s; exits after 120 s.
"""

import json
import socket
import ssl
import sys
import threading
import time

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)


def serve(raw):
    try:
        raw.settimeout(10)
        conn = ctx.wrap_socket(raw, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        body = b"hello\n"
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        # Never read again: close_notify sits unread, nothing is sent back.
        time.sleep(30)
        conn.close()
    except (OSError, ssl.SSLError):
        pass


def accept_loop():
    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


threading.Thread(target=accept_loop, daemon=True).start()
print("READY " + json.dumps({"port": listener.getsockname()[1]}), flush=True)
time.sleep(120)
