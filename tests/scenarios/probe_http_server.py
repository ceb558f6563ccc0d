"""Python's own http.server, speaking HTTP/1.1 with keep-alive (Content-Length
on every response), as the probe's live tests need it.

usage: probe_http_server.py [--threading] [--no-content-type] [--idle-timeout S]
  default            HTTPServer: one connection at a time, so an idle
                     keep-alive connection holds the only slot (story 3)
  --threading        ThreadingHTTPServer: spare capacity, must stay silent
  --no-content-type  the response body carries no Content-Type (story 1)
  --idle-timeout S   close a keep-alive connection idle for S seconds
Prints READY {"port": N}; exits after 120 s at the latest.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

NO_CT = "--no-content-type" in sys.argv


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1: the connection stays open after each response (keep-alive).
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"%PDF-1.4 pretend binary\x00\x01\x02\n"
        self.send_response(200)
        if not NO_CT:
            self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if "--idle-timeout" in sys.argv:
    # StreamRequestHandler.timeout: the socket timeout while awaiting the next request.
    Handler.timeout = float(sys.argv[sys.argv.index("--idle-timeout") + 1])

cls = ThreadingHTTPServer if "--threading" in sys.argv else HTTPServer
server = cls(("127.0.0.1", 0), Handler)
threading.Timer(120, server.shutdown).start()
print("READY " + json.dumps({"port": server.server_address[1]}), flush=True)
server.serve_forever()
