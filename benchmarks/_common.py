"""Helpers shared by the benchmark scripts: the machine, statistics, and BENCHMARKS.md sections.

Each script prints its table and, with `--write`, replaces its own `## ` section of BENCHMARKS.md
(or appends it), headed by the machine, the command and the date.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"


def ray_environment() -> dict[str, str]:
    """The environment for a process that starts Ray: loopback only, quiet, one torch thread."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return env


def machine() -> str:
    """The CPU model (`lscpu`), its cores, Python and the library versions that matter."""
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip()
            for line in out.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    import optuna
    import ray
    import torch

    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, torch "
        f"{torch.__version__}, Ray {ray.__version__}, Optuna {optuna.__version__}"
    )


def load_average() -> str:
    """The 1-minute load average now (other work on the machine skews timings)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def command(module: str, argv: Sequence[str]) -> str:
    """The command line that reproduces this run."""
    return " ".join(["python -m", module, *argv])


def spread(values: Sequence[float], digits: int = 2) -> str:
    """`median (min-max)` of `values`, or the single value."""
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def header(module: str, argv: Sequence[str]) -> str:
    """The bullet lines that head a section: machine, command, date and load."""
    return (
        f"- Machine: {machine()}\n"
        f"- Command: `{command(module, argv)}`\n"
        f"- Date: {now()} (1-minute load average at the end: {load_average()})\n"
    )


def write_section(title: str, body: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the `## title` section of `path` with `body` (append it when there is none)."""
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    lines = text.splitlines()
    heading = f"## {title}"
    new = [heading, "", *body.strip("\n").splitlines(), ""]
    if heading in lines:
        start = lines.index(heading)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        lines[start:end] = new
    else:
        lines += ["", *new] if lines and lines[-1] else new
    path.write_text("\n".join(lines).rstrip("\n") + "\n")


def timed_run(
    args: Sequence[str], log: Path, timeout: float = 3600, env: dict[str, str] | None = None
) -> float:
    """Run `python args...` in a fresh process (output to `log`), with `env` added to its
    environment; its wall time in seconds.

    Raises `RuntimeError` with the log's tail when the process fails.
    """
    start = time.perf_counter()
    with log.open("w") as handle:
        proc = subprocess.run(
            [sys.executable, *args],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**ray_environment(), **(env or {})},
            cwd=ROOT,
            timeout=timeout,
        )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{tail}")
    return wall
