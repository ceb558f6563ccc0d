"""A service that shuts down cleanly on SIGTERM, in its handler. Stopped
(SIGSTOP, Ctrl-Z, a debugger) it cannot run that handler until SIGCONT.
READY {}; ends by itself after LIFETIME seconds."""
import signal
import sys
import time

LIFETIME = 60
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("READY {}", flush=True)
time.sleep(LIFETIME)
