"""A two-node cluster on one machine: the CLI connects by address and trials use both nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.tuner.spaces import ray_curves, toy_space
from tuner.experiment import load_experiment

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cli_runs_trials_on_both_nodes(tmp_path: Path, results_dir: Path) -> None:
    space = toy_space(
        tmp_path,
        results_dir,
        name="two_nodes",
        num_samples=4,
        asha=None,
        fixed={"sleep": 0.3},
        resources={"cpu": 1},
        max_concurrent_trials=2,
    )
    out = tmp_path / "cluster.json"
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    subprocess.run(
        [sys.executable, "-m", "tests.tuner.cluster_run", str(space), str(out)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    assert report["returncode"] == 0, report["stderr"][-3000:]
    assert "running on the Ray cluster" in report["stdout"]
    assert report["node_ips"] == ["127.0.0.1", "127.0.0.1"]

    exp_dir = results_dir / "two_nodes"
    curves = ray_curves(exp_dir)
    used = {row["node_id"] for rows in curves.values() for row in rows}
    assert used == set(report["node_ids"])
    assert len(used) == 2

    study = load_experiment(exp_dir).load_study()
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
