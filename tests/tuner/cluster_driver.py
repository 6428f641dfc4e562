"""Drive `python -m tuner` in a subprocess with its own local Ray, and clean that Ray up.

Each driver gets a fresh short `RAY_TMPDIR`, so every Ray process it starts names that folder on
its command line; `ray_pids(tmpdir)` finds them (and only them) in /proc, `end_pids` ends them
by pid. The session's own Ray is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def driver_env(tmpdir: str) -> dict[str, str]:
    """The environment of a driver whose Ray lives under `tmpdir`, on loopback."""
    env = {**os.environ, "RAY_TMPDIR": tmpdir, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def ray_tmpdir() -> str:
    """A short fresh folder for one driver's Ray (Unix socket paths must stay short)."""
    return tempfile.mkdtemp(prefix="rt", dir="/tmp")


def start_cli(args: Sequence[str], tmpdir: str, log: Path) -> subprocess.Popen:
    """`python -m tuner ARGS` in its own process group, stdout and stderr into `log`."""
    handle = open(log, "w")  # the child keeps it open; ours closes with this process
    return subprocess.Popen(
        [sys.executable, "-m", "tuner", *args],
        cwd=REPO,
        env=driver_env(tmpdir),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 0.2 s; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


def ray_pids(tmpdir: str) -> list[int]:
    """Pids of the live processes whose command line names `tmpdir` (that driver's Ray)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if tmpdir in cmdline and "State:\tZ" not in status:
            pids.append(int(entry.name))
    return pids


def discard(tmpdir: str) -> None:
    """End whatever Ray process of that driver is left, then remove its folder."""
    end_pids(ray_pids(tmpdir))
    shutil.rmtree(tmpdir, ignore_errors=True)


def end_pids(pids: Sequence[int]) -> None:
    """SIGKILL each pid (processes this test's driver started)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
