"""Each benchmark's `--quick` mode runs end to end in a fresh process and prints its table.

Smoke tests: they check what the tables hold, never how fast anything was.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_quick(module: str, *args: str) -> str:
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "PYTHONPATH": str(ROOT)}
    before = (ROOT / "BENCHMARKS.md").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", module, "--quick", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (ROOT / "BENCHMARKS.md").read_text() == before, "--quick without --write wrote"
    return proc.stdout


def numbers(line: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", line)]


def test_machinery_quick() -> None:
    out = run_quick("benchmarks.machinery")
    plan = next(line for line in out.splitlines() if line.startswith("| `build_lr_plan`"))
    hand = next(line for line in out.splitlines() if line.startswith("| hand-written"))
    assert all(x > 0 for x in numbers(plan) + numbers(hand))
    assert re.search(r"overhead: [+-]\d+\.\d+ %", out)


@pytest.mark.slow
def test_overhead_quick() -> None:
    out = run_quick("benchmarks.overhead")
    rows = {line.split("|")[1].strip()[:3]: line for line in out.splitlines() if "| (" in line}
    assert set(rows) == {"(a)", "(b)", "(c)", "(d)"}
    assert all(numbers(row)[0] > 0 for row in rows.values())


@pytest.mark.slow
def test_search_efficiency_quick() -> None:
    out = run_quick("benchmarks.search_efficiency")
    rows = [line for line in out.splitlines() if line.startswith("| tpe") or "| random" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["tpe_asha", "tpe_asha_stock", "random"]
    random_row = rows[2].split("|")
    assert random_row[2].strip() == "1/1"  # random search reaches its own final best
    assert float(random_row[6]) == 6 * 4  # unpruned: every trial runs every epoch


@pytest.mark.slow
def test_scale_quick() -> None:
    out = run_quick("benchmarks.scale")
    sweeps = [line for line in out.splitlines() if line.startswith("| 60 |")]
    assert [line.split("|")[2].strip() for line in sweeps] == ["1", "4"]  # trials per CPU
    assert all("60 COMPLETE" in line for line in sweeps)
    spaces = [line for line in out.splitlines() if line.startswith(("| trivial", "| examples"))]
    assert len(spaces) == 2 and all(len(numbers(s)) == 2 for s in spaces)


def test_population_quick() -> None:
    out = run_quick("benchmarks.population", "--concurrent", "2")
    rows = [line for line in out.splitlines() if line.startswith("| fused population, K = ")]
    assert [row.split("|")[2].strip() for row in rows] == ["1", "4"]
    starts = ("| a fresh", "| `train_dsr`", "| 2 warm processes at once on the CPU | 4 |")
    bases = [line for line in out.splitlines() if line.startswith(starts)]
    assert len(bases) == 3 and all(numbers(line)[0] > 0 for line in bases + rows)
