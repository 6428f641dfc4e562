"""A real sweep over the finetune trainable on the session's local Ray."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from tuner.api import run_space

N_EPOCHS = 3
pytestmark = pytest.mark.slow

GROUPS = {"body/layer1": 3, "body/layer2": 2, "body/layer3": 1, "head": 0}  # depth from the top


def test_a_small_sweep_searches_layer_rates_decay_and_unfreezing(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    space = yaml.safe_load((Path(__file__).parents[2] / "examples" / "finetune.yaml").read_text())
    space.update(
        name="finetune_small",
        n_epochs=N_EPOCHS,
        num_samples=4,
        max_concurrent_trials=2,
        asha=None,
        checkpoint_every=1,
        storage_path=str(results_dir),
        fixed={"pretrain_epochs": 5},
        searcher={"name": "random", "seed": 0},
    )
    path = tmp_path / "finetune_small.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    outcome = run_space(path)
    study = outcome.experiment.load_study()
    assert outcome.counts == {"COMPLETE": 4, "PRUNED": 0, "FAIL": 0}
    assert all(t.state == TrialState.COMPLETE for t in study.trials)

    curves = pd.read_parquet(outcome.experiment.dir / "curves.parquet")
    seen = {"frozen": 0, "checked": 0}
    for trial in study.trials:
        config = trial.user_attrs["config"]
        rows = curves[curves["trial_id"] == trial.user_attrs["ray_trial_id"]]
        assert sorted(rows["epoch"]) == [1, 2, 3]
        assert trial.value == pytest.approx(rows["val_loss"].iloc[-1], rel=1e-12)
        decay = config["layer_decay"]
        unfreeze = config["unfreeze"]
        rates = config["learning_rate"]
        for group, depth in GROUPS.items():
            parts = group.split("/")
            leaf = rates[parts[0]] if len(parts) == 1 else rates[parts[0]][parts[1]]
            for epoch, lr in zip(rows["epoch"], rows[f"lr/{group}"], strict=True):
                start = 0
                if unfreeze is not None and depth >= unfreeze["last_n"]:
                    start = (depth - unfreeze["last_n"] + 1) * unfreeze["every"]
                if epoch - 1 < start:
                    assert lr == 0.0, (group, epoch, config)
                    seen["frozen"] += 1
                elif epoch == 1:
                    assert lr == pytest.approx(leaf["lr"] * decay**depth, rel=1e-12)
                    seen["checked"] += 1
    assert seen["frozen"] > 0 and seen["checked"] >= 4  # both sides of the timetable were seen
