"""A process at a given share of a lowered RLIMIT_NOFILE."""
import argparse, os, resource
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("--limit", type=int, default=100)
ap.add_argument("--percent", type=int, default=90)
args = ap.parse_args()
self_destruct()
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (args.limit, hard))
def open_fds():
    return len(os.listdir("/proc/self/fd")) - 1  # listdir's own fd


held = []
while open_fds() < args.limit * args.percent // 100:
    held.append(os.open("/dev/null", os.O_RDONLY))
ready(fds=open_fds(), limit=args.limit)
park()
