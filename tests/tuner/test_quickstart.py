"""The README's main command end to end on the DSR benchmark, on a new local Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from optuna.trial import TrialState

from tuner.experiment import load_experiment

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quickstart_finds_a_clearly_better_config(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_ADDRESS")
    }
    command = ["run", "examples/quickstart.yaml", "--storage-path", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "tuner", *command],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "running on a new local Ray (node 127.0.0.1" in done.stdout
    assert "Traceback" not in done.stdout

    experiment = load_experiment(tmp_path / "quickstart")
    study = experiment.load_study()
    states = [t.state for t in study.trials]
    assert len(states) == 16 and TrialState.RUNNING not in states
    assert TrialState.COMPLETE in states and TrialState.PRUNED in states

    frame = pd.read_parquet(experiment.dir / "trials.parquet")
    worst = frame["last/score"].max()
    best = study.best_trial
    assert best.state == TrialState.COMPLETE
    assert best.value < 0.5 * worst, f"best {best.value} vs worst {worst}"
    assert (experiment.dir / "best_configs.yaml").read_text().count("rank:") >= 1
