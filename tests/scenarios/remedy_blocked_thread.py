"""Story 4 of the field notes: a launcher thread that blocks every signal
(as uWSGI's worker threads do) starts programs with subprocess.

Usage: remedy_blocked_thread.py UNWEDGE OUTDIR CMD...
From a thread that blocked all signals, starts CMD twice: once plainly and
once as `UNWEDGE exec -- CMD`. The main thread ignores SIGHUP (as nohup
does), which children inherit too. Prints READY {"plain": pid, "via": pid},
then writes each child's exit status to OUTDIR/plain and OUTDIR/via as it
exits. Ends by itself after LIFETIME seconds.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

LIFETIME = 60
unwedge, outdir, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
signal.signal(signal.SIGHUP, signal.SIG_IGN)
children = {}


def launcher():
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    children["plain"] = subprocess.Popen(cmd)
    children["via"] = subprocess.Popen([unwedge, "exec", "--"] + cmd)


t = threading.Thread(target=launcher)
t.start()
t.join()
print("READY " + json.dumps({k: c.pid for k, c in children.items()}), flush=True)


def reap(name):
    try:
        code = children[name].wait(timeout=LIFETIME)
    except subprocess.TimeoutExpired:
        return
    with open(os.path.join(outdir, name + ".tmp"), "w") as f:
        f.write(str(code))
    os.rename(os.path.join(outdir, name + ".tmp"), os.path.join(outdir, name))


for name in children:
    threading.Thread(target=reap, args=(name,), daemon=True).start()
time.sleep(LIFETIME)
