"""Shared bits of the scenario servers: announce readiness, die with the test."""
import json, os, signal, sys, threading, time


def ready(**info):
    info.setdefault("pid", os.getpid())
    print("READY " + json.dumps(info), flush=True)


def self_destruct(seconds=120):
    """A scenario never outlives a crashed test by more than this."""
    def die():
        time.sleep(seconds)
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=die, daemon=True).start()


def park():
    """Wait forever (until killed) without burning CPU."""
    while True:
        time.sleep(3600)


def own_netns():
    """Moves this process into a new network namespace of its own (it dies
    with the process: nothing to clean up) with loopback up. Call it first,
    before any thread starts: a namespace change is per thread."""
    import ctypes, subprocess
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNET = 0x40000000
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) (needs root)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return os.readlink("/proc/self/ns/net")


def sysctl(name, value):
    """Sets a sysctl; a net.* one applies to this process's namespace only."""
    with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
        f.write(str(value))


def join_cgroup(path):
    """Moves this process into the cgroup directory PATH (which the test
    made and will remove); its children are born there."""
    if path:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
