"""`python -m tuner` drivers for fault tests: own local Ray each, extra environment, clean-up.

Built on `tests.tuner.cluster_driver`: every driver's Ray lives under its own `RAY_TMPDIR`, so
its processes are found (and ended) by that folder and pid only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.tuner.cluster_driver import REPO, discard, driver_env, ray_tmpdir

#: Optuna journal operation that sets a trial's state (and values)
SET_STATE = 6
COMPLETE, FAIL = 1, 3


@dataclass(frozen=True)
class Driver:
    """A running `python -m tuner` process, its Ray folder and its output file."""

    process: subprocess.Popen
    tmpdir: str
    out: Path

    def text(self) -> str:
        return self.out.read_text(errors="replace")


@contextmanager
def driver(
    args: Sequence[str], out: Path, env: Mapping[str, str] | None = None
) -> Iterator[Driver]:
    """`python -m tuner ARGS` in its own session; killed (if still running) at the end, and
    whatever Ray process it left ended by pid."""
    tmpdir = ray_tmpdir()
    handle = open(out, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tuner", *args],
        cwd=REPO,
        env={**driver_env(tmpdir), **(env or {})},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield Driver(process, tmpdir, out)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        handle.close()
        discard(tmpdir)


def run_cli(
    args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`python -m tuner ARGS` to its end, with its own Ray folder (discarded after)."""
    tmpdir = ray_tmpdir()
    try:
        return subprocess.run(
            [sys.executable, "-m", "tuner", *args],
            cwd=REPO,
            env={**driver_env(tmpdir), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        discard(tmpdir)


def journal_states(journal: Path) -> dict[int, int]:
    """Optuna trial id -> the state its last set-state line in `journal` gives (whole lines
    only; read without opening the storage, so no repair of a line being written)."""
    states: dict[int, int] = {}
    try:
        lines = journal.read_bytes().split(b"\n")[:-1]
    except FileNotFoundError:
        return states
    for line in lines:
        try:
            op = json.loads(line)
        except ValueError:
            continue
        if op.get("op_code") == SET_STATE:
            states[op["trial_id"]] = op["state"]
    return states
