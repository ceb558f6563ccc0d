"""Issue 26's Python service: an HTTP server whose handlers call an
upstream through a small pool of real TCP connections.

  python3 py_service.py MODE [POOL]

  leak     http.server's ThreadingHTTPServer (a thread per request); the
           pool's POOL connections were checked out by the first calls and
           never returned (an error path that skipped pool.put): every
           request waits in Pool.get for ever, and the upstream's
           connections sit idle both ways
  slow     the same server, the pool returned on every path; the upstream
           answers each call after 300 ms: every request is answered,
           slowly (healthy twin)
  stuck    the same server; the upstream takes each call and never
           answers: the handlers holding a connection wait in sock.recv,
           the others in Pool.get (a slow upstream, not a leak)
  single   http.server's HTTPServer (one thread serves); the upstream never
           answers, so the one thread waits in sock.recv inside the
           handler while later clients wait in the accept queue

The upstream runs in a child process (its threads must not mix with the
service's) in the same process group. Prints READY {"port": P, "pid":
PID, "upstream": U} once listening. The lines the tests expect in the
frames are marked `# LINE:name` (Python 3.8-compatible on purpose)."""
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer


def upstream_main(delay):
    """Answers each line "CALL x" with "OK x" after `delay` seconds; never,
    when `delay` is negative."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(srv.getsockname()[1], flush=True)

    def serve(conn):
        f = conn.makefile("rb")
        for line in f:
            if delay < 0:
                continue
            time.sleep(delay)
            conn.sendall(b"OK " + line[5:])

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


class UpstreamConn:
    """One connection to the upstream: a call is a line out, a line back."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def read_reply(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)  # LINE:recv
            if not data:
                raise ConnectionError("upstream closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def call(self, what):
        self.sock.sendall(b"CALL " + what.encode() + b"\n")
        return self.read_reply()  # LINE:call-read


class Pool:
    """A fixed set of connections, lent out and (should be) given back."""

    def __init__(self, port, size):
        # Every connection made, as real pools keep them: a leaked one stays open.
        self._all = [UpstreamConn(port) for _ in range(size)]
        self._free = queue.Queue()
        for conn in self._all:
            self._free.put(conn)

    def get(self):
        return self._free.get()  # LINE:pool-get

    def put(self, conn):
        self._free.put(conn)


POOL = None


def fetch(what):
    conn = POOL.get()  # LINE:fetch-get
    try:
        return conn.call(what)  # LINE:fetch-call
    finally:
        POOL.put(conn)


def fetch_leaky(what):
    # The bug: the error path returns without POOL.put(conn).
    conn = POOL.get()
    reply = conn.call(what)
    if what.startswith("/warm"):
        return reply
    POOL.put(conn)
    return reply


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = fetch(self.path) + b"\n"  # LINE:handler
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    global POOL
    if sys.argv[1] == "upstream":
        upstream_main(float(sys.argv[2]))
        return
    mode = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    delay = {"leak": 0.0, "slow": 0.3, "stuck": -1.0, "single": -1.0}[mode]
    up = subprocess.Popen([sys.executable, "-u", __file__, "upstream", str(delay)], stdout=subprocess.PIPE)
    port = int(up.stdout.readline())
    POOL = Pool(port, size)
    if mode == "leak":
        # The first calls take every connection and keep them.
        for i in range(size):
            fetch_leaky("/warm%d" % i)
    server_class = HTTPServer if mode == "single" else ThreadingHTTPServer
    server = server_class(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("READY " + json.dumps({"port": server.server_address[1], "pid": os.getpid(), "upstream": port}),
          flush=True)
    server.serve_forever()  # LINE:serve


if __name__ == "__main__":
    main()
