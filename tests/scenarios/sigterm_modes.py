"""A process that ignores SIGTERM (ignore), blocks it with nothing reading
it (block), blocks it and reads it from a signalfd like systemd-style
daemons (signalfd: exits 0 on SIGTERM), or ignores nothing (plain). With
managed: a worker that ignores SIGTERM under its live master, as
PostgreSQL's logger does (READY names it as "worker").

READY {"pid": pid, "mode": mode}"""
import ctypes, os, signal, sys
from _proc_scn import libc, park, ready, watchdog

mode = sys.argv[1]
watchdog()
if mode == "managed":
    worker = os.fork()
    if worker == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        park()
    ready(mode=mode, worker=worker)
    park()
if mode == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
elif mode in ("block", "signalfd"):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
if mode == "signalfd":
    mask = (ctypes.c_ulong * 16)()
    mask[0] = 1 << (signal.SIGTERM - 1)
    fd = libc.signalfd(-1, ctypes.byref(mask), 0)
    assert fd >= 0, ctypes.get_errno()
    ready(mode=mode)
    os.read(fd, 128)  # struct signalfd_siginfo: SIGTERM arrived
    os._exit(0)
ready(mode=mode)
park()
