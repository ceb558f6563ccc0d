"""A parent that never reaps its 10 exited children (SIGCHLD left at its
default, no wait()); with --reap, a parent that does.

READY {"pid": parent, "children": [pids]}"""
import os, sys
from _proc_scn import park, ready, wait_for, watchdog

watchdog()
kids = []
for _ in range(10):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    kids.append(pid)
if "--reap" in sys.argv:
    for k in kids:
        os.waitpid(k, 0)
else:
    def all_defunct():
        for k in kids:
            with open("/proc/%d/stat" % k) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    return False
        return True
    wait_for(all_defunct)
ready(children=kids)
park()
