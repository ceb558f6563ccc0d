"""What hping3 does (story 4): install a SIGALRM handler, arm alarm(1), wait
in poll() on a fd that never becomes ready. The handler ends the wait: exit
0. With SIGALRM blocked (inherited mask) it never runs: the poll lasts
TIMEOUT seconds and the script exits 3."""
import os
import select
import signal
import sys

TIMEOUT_MS = 60_000


def on_alarm(signum, frame):
    sys.exit(0)


signal.signal(signal.SIGALRM, on_alarm)
signal.alarm(1)
r, _w = os.pipe()
p = select.poll()
p.register(r, select.POLLIN)
p.poll(TIMEOUT_MS)
sys.exit(3)
