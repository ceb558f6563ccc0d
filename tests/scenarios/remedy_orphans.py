"""A pre-fork server whose workers ignore SIGTERM (story 1 of the field notes).

The master binds 127.0.0.1:0, forks workers that inherit the listening
socket, prints READY {"port", "master", "workers", "closed"} and waits. The
test then SIGKILLs the master, so the workers become orphans (re-parented to
init or a subreaper) that still hold the port, in the master's process group.
One worker closes its copy of the listening socket, like a connection handler:
only the process-group logic can find it. Every process ends by itself after
LIFETIME seconds, so nothing outlives a crashed test for long.
"""
import json
import os
import signal
import socket
import sys
import time

LIFETIME = 90
WORKERS = int(sys.argv[1]) if len(sys.argv) > 1 else 3

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(16)
port = listener.getsockname()[1]

workers = []
for i in range(WORKERS):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if i == WORKERS - 1:
            listener.close()
        deadline = time.monotonic() + LIFETIME
        while time.monotonic() < deadline:
            time.sleep(0.5)
        os._exit(0)
    workers.append(pid)

print("READY " + json.dumps({"port": port, "master": os.getpid(), "workers": workers, "closed": workers[-1]}), flush=True)
time.sleep(LIFETIME)
