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
