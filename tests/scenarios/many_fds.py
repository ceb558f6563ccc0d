"""Processes holding --total fds between them: one process dups /dev/null
up to its hard RLIMIT_NOFILE, then forks copies of itself (fork copies the
fd table: cheap for the kernel, a full /proc/PID/fd walk for a scanner)."""
import argparse, os, resource
from _scn import ready, self_destruct, park

ap = argparse.ArgumentParser()
ap.add_argument("--total", type=int, default=1_000_000)
args = ap.parse_args()
self_destruct()
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
per = hard - 16
fd = os.open("/dev/null", os.O_RDONLY)
for n in range(fd + 1, fd + per):
    os.dup2(fd, n)
procs = -(-args.total // per)
pids = [os.getpid()]
for _ in range(procs - 1):
    pid = os.fork()
    if pid == 0:
        park()
    pids.append(pid)
ready(pids=pids, per_process=per)
park()
