"""Healthy twin: a listener that accepts promptly and has nothing to do."""
import socket, threading
from _scn import ready, self_destruct, park

self_destruct()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(128)
threading.Thread(target=lambda: [srv.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
ready(port=srv.getsockname()[1])
park()
