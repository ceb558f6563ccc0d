"""Healthy twin: an HTTP/1.1 keep-alive server with spare capacity (a thread
per connection). One client idles on its keep-alive connection while others
are served at once."""
import http.client, socket, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from _scn import ready, self_destruct, park


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


self_destruct()
class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients going away are not this scenario's business


srv = Server(("127.0.0.1", 0), H)
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
idle = socket.create_connection(("127.0.0.1", port), timeout=5)
idle.sendall(req)
idle.recv(4096)


def traffic():
    end = time.time() + 20
    while time.time() < end:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/")
        c.getresponse().read()
        c.close()
        time.sleep(0.05)


threading.Thread(target=traffic, daemon=True).start()
ready(port=port)
park()
