"""A listener with backlog 1 that never accepts, its accept queue filled by
its own clients: further SYNs are dropped by the kernel, so a connect gets
its SYN retransmitted and finally times out (story 2's "related" case).

Prints READY {"port": N}; exits after 120 s.
"""

import json
import socket
import time

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
port = listener.getsockname()[1]
held = []
# Linux queues backlog + 1 connections; fill until a connect stalls (bounded).
for _ in range(8):
    c = socket.socket()
    c.settimeout(0.3)
    try:
        c.connect(("127.0.0.1", port))
        held.append(c)
    except OSError:
        c.close()
        break
print("READY " + json.dumps({"port": port, "queued": len(held)}), flush=True)
time.sleep(120)
