"""Shared bits of the process/thread scenarios: announce readiness, and a
watchdog *process* (not a thread: an extra thread would change what the
thread detectors see) that kills the group if a crashed test leaves it."""
import ctypes, json, os, signal, time

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15


def ready(**info):
    info.setdefault("pid", os.getpid())
    print("READY " + json.dumps(info), flush=True)


def watchdog(seconds=90):
    if os.fork() == 0:
        time.sleep(seconds)
        os.killpg(0, signal.SIGKILL)
        os._exit(0)


def name_thread(name):
    libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def status_field(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    return None


def wait_for(pred, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    raise SystemExit("scenario setup timed out")


def park():
    while True:
        time.sleep(3600)
