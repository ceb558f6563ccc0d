"""A listener with a small backlog that never calls accept(), hit by more
connects than its queue holds."""
import argparse, socket
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("--backlog", type=int, default=4)
ap.add_argument("--connects", type=int, default=10)
args = ap.parse_args()
self_destruct()
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(args.backlog)
port = srv.getsockname()[1]
clients = []
for _ in range(args.connects):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", port))
    clients.append(c)
ready(port=port)
park()
