"""Story 4: a worker thread that blocks every signal (as a uWSGI worker
thread does) launches a child; the child installs a SIGALRM handler, arms
alarm(1) and waits in poll() for it, as hping3 does. With --unblocked the
child is launched from a thread that blocks nothing: the alarm fires.

READY {"pid": parent, "child": pid, "launcher_tid": tid}"""
import os, select, signal, subprocess, sys, threading
from _proc_scn import name_thread, park, ready, status_field, wait_for, watchdog

if "--child" in sys.argv:
    def on_alarm(_sig, _frame):
        name_thread("alarm-fired")  # visible in /proc/PID/comm: the handler ran

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(1)
    r, _w = os.pipe()
    p = select.poll()
    p.register(r, select.POLLIN)
    while True:
        p.poll()  # no timeout: only the alarm handler was to end this wait

watchdog()
blocked = "--unblocked" not in sys.argv
info = {}
started = threading.Event()


def launcher():
    name_thread("worker-1")
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"])
    info.update(child=child.pid, launcher_tid=threading.get_native_id())
    started.set()
    child.wait()  # keeps this thread, and its mask, alive


threading.Thread(target=launcher, daemon=True).start()
started.wait()
# Ready once the child has its SIGALRM handler (bit 13 of SigCgt).
wait_for(lambda: int(status_field(info["child"], "SigCgt") or "0", 16) & (1 << 13))
ready(**info)
park()
