"""Recipes of issue 22 for record.py: the misnamings fixed from kernel facts.

- connect_unanswered: nginx proxying to an upstream whose SYNs an iptables
  DROP rule eats, in the scenario's own network namespace (bad), and the
  same with the SYN-ACKs held 300 ms by an NFQUEUE helper (healthy);
- mount_unresponsive: a threaded server logging to a file on a FUSE mount
  whose daemon (tests/scenarios/fuse_log.c, built here with libfuse3) never
  answers a write (bad), or answers after 300 ms (healthy);
- incidents: an asyncio service calling a blocking client on an upstream
  that never answers, and its twin awaiting an async client.
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

SCENARIOS = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tests/scenarios"))


def blackhole(mode, scenario_cls):
    def recipe():
        d = tempfile.mkdtemp(prefix="unwedge-blackhole-")
        s = scenario_cls("blackhole_proxy.py", d, mode)
        # Long enough for SYN retransmits (drop) or a steady stream of delayed connects (delay).
        time.sleep(4)
        note = "python3 -u blackhole_proxy.py DIR %s (its own network namespace; nginx proxy_pass to an upstream %s)" % (
            mode,
            "whose SYNs iptables drops" if mode == "drop" else "whose SYN-ACKs are held 300 ms",
        )
        return [s], [s.pid], note, lambda: shutil.rmtree(d, ignore_errors=True), (["--drop-time-wait"] if mode == "delay" else [])

    return recipe


def build_fuse_daemon():
    out = os.path.join(tempfile.mkdtemp(prefix="unwedge-fuse-"), "fuse_log")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "fuse3"], check=True, capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-O2", os.path.join(SCENARIOS, "fuse_log.c"), "-o", out] + flags, check=True)
    return out


def fuse_log(mode, scenario_cls):
    def recipe():
        daemon = build_fuse_daemon()
        mnt = tempfile.mkdtemp(prefix="unwedge-fusemnt-")
        s = scenario_cls("fuse_log_server.py", daemon, mnt, mode)
        time.sleep(2)

        def cleanup():
            try:
                os.killpg(s.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
            shutil.rmtree(os.path.dirname(daemon), ignore_errors=True)
            try:
                os.rmdir(mnt)
            except OSError:
                pass

        note = "python3 -u fuse_log_server.py fuse_log MOUNTPOINT %s (a libfuse3 daemon whose write %s)" % (
            mode,
            "never answers" if mode == "hang" else "answers after 300 ms",
        )
        return [s], [s.pid], note, cleanup, (["--drop-time-wait"] if mode == "slow" else [])

    return recipe


def asyncio_service(mode, scenario_cls):
    def recipe():
        s = scenario_cls("asyncio_blocking.py", mode)
        time.sleep(2.5)
        note = "python3 -u asyncio_blocking.py %s" % mode
        return [s], [s.pid], note, None, (["--drop-time-wait"] if mode == "async" else [])

    return recipe
