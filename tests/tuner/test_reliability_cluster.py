"""A worker node dies mid-sweep on a real three-node Ray cluster: nothing is lost.

Trials checkpoint every epoch; the node is removed while a trial runs on it. Every trial still
ends COMPLETE or PRUNED, the interrupted ones went on on the other worker from their last
checkpoint (at most one epoch redone, read from Ray's per-trial curves), and Optuna's records
match what Ray ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from tuner.experiment import load_experiment
from tuner.searcher import RAY_TRIAL_ID, final_state

REPO = Path(__file__).resolve().parents[2]
N_EPOCHS = 8


@pytest.mark.slow
def test_worker_node_dies_trials_resume_from_checkpoints(tmp_path: Path, results_dir: Path) -> None:
    space = toy_space(
        tmp_path,
        results_dir,
        name="node_death",
        trainable="tests.tuner.cluster_toy:trainable",
        n_epochs=N_EPOCHS,
        num_samples=6,
        max_concurrent_trials=4,
        fixed={"sleep": 0.5},
        checkpoint_every=1,
        max_failures=3,
        resources={"cpu": 1},
        asha={"grace_period": 3, "reduction_factor": 2},
    )
    exp_dir = results_dir / "node_death"
    out = tmp_path / "cluster.json"
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    helper = "tests.tuner.cluster_node_death"
    subprocess.run(
        [sys.executable, "-m", helper, str(space), str(exp_dir), str(out)],
        cwd=REPO,
        env=env,
        check=True,
        timeout=600,
    )
    report = json.loads(out.read_text())
    assert report["returncode"] == 0, report["output"][-4000:]
    assert len(report["node_ids"]) == 3

    curves = ray_curves(exp_dir)
    study = load_experiment(exp_dir).load_study()
    assert len(study.trials) == 6 and set(curves) == {
        t.user_attrs[RAY_TRIAL_ID] for t in study.trials
    }
    moved = 0
    for record in study.trials:
        rows = curves[record.user_attrs[RAY_TRIAL_ID]]
        x = record.params["x"]
        nodes = [r["node_id"] for r in rows]
        if report["removed"] in nodes and nodes[-1] != report["removed"]:
            moved += 1
            cut = max(i for i, node in enumerate(nodes) if node == report["removed"])
            last, start = rows[cut]["epoch"], rows[cut + 1]["start"]
            # went on from its last checkpoint (every epoch): at most one epoch redone
            assert last - 1 <= start - 1 <= last, (record.number, last, start)
            assert rows[cut + 1]["epoch"] == start
        epochs = sorted({r["epoch"] for r in rows})
        assert epochs == list(range(1, epochs[-1] + 1))  # nothing skipped
        assert record.state in (TrialState.COMPLETE, TrialState.PRUNED)
        assert record.state == final_state(rows[-1], "score", N_EPOCHS)
        assert record.intermediate_values == {
            e: pytest.approx(score(x, e), rel=1e-12) for e in epochs
        }
    assert moved >= 1, "no trial was running on the removed node"
