"""A parent that never reaps its exited child: the child stays a zombie.
READY {"parent", "zombie"}; the parent ends by itself after LIFETIME seconds."""
import json
import os
import time

LIFETIME = 60
pid = os.fork()
if pid == 0:
    os._exit(0)
print("READY " + json.dumps({"parent": os.getpid(), "zombie": pid}), flush=True)
time.sleep(LIFETIME)
