"""A local Ray's GCS lost mid-sweep: end at once with what is recorded, not after Ray's 60 s.

The GCS (`gcs_server`) of the local Ray a sweep starts is a child process of the driver. If it
dies (killed, out of memory), every Ray call blocks, and once `gcs_rpc_server_reconnect_timeout_s`
(60 s) has passed Ray's core worker ends the driver process with exit 1 from C++, skipping every
Python handler: no tables, no resume command, records left RUNNING. `gcs_watch(on_loss)` polls
that process (by pid, in /proc) every `POLL_S` seconds; when it is gone, the watching
thread calls `on_loss()` (the sweep closes its records and writes its tables from the Optuna
study, which needs no Ray), ends the rest of this Ray (its raylet and what runs under it, by pid)
and exits the process with the code `on_loss` returned. Nothing is watched for a cluster (its
GCS is elsewhere: Ray's own timeout applies) or a Ray this process did not start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

POLL_S = 0.5
GCS_PROCESS = "gcs_server"
#: the processes a local Ray starts as children of the driver
RAY = frozenset({GCS_PROCESS, "raylet"})
_PROC = Path("/proc")


def _processes() -> dict[int, tuple[int, str, str]]:
    """Every process on this machine: pid -> (parent pid, name, state), from /proc (Linux)."""
    found = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, parent = stat[stat.rindex(")") + 2 :].split()[:2]
        found[int(entry.name)] = (int(parent), name, state)
    return found


def local_gcs() -> int | None:
    """The pid of the GCS among this driver's child processes (a local Ray it started), or
    None (another Ray, or no /proc to look in)."""
    if not _PROC.is_dir():
        return None
    me = os.getpid()
    for pid, (parent, name, state) in _processes().items():
        if parent == me and name == GCS_PROCESS and state != "Z":
            return pid
    return None


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie not yet reaped counts as ended)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def _end_children() -> None:
    """SIGKILL what is left of the Ray this driver started, by pid: its `gcs_server` and
    `raylet` child processes and everything under them (Ray's workers and agents)."""
    processes, me = _processes(), os.getpid()
    family = {pid for pid, (parent, name, _) in processes.items() if parent == me and name in RAY}
    added = True
    while added:
        children = {pid for pid, (parent, _, _) in processes.items() if parent in family}
        added = bool(children - family)
        family |= children
    for pid in family:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@contextmanager
def gcs_watch(on_loss: Callable[[], int]) -> Iterator[None]:
    """Within the block, a death of this driver's local GCS ends the process (module
    docstring) with the exit code `on_loss()` returns."""
    gcs = local_gcs()
    if gcs is None:
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(POLL_S):
            if not _gone(gcs):
                continue
            if stop.is_set():  # the sweep ended and Ray is shutting down
                return
            code = 1
            try:
                code = on_loss()
            except BaseException:  # still end promptly, with Ray's processes
                logger.exception("writing what was recorded after the GCS loss failed")
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                _end_children()
                os._exit(code)

    thread = threading.Thread(target=watch, name="gcs-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
