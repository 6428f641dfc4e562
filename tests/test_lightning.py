"""The Lightning callback: the plan is the module's optimizer, one report per epoch; the
Lightning example sweep (examples/lightning/) end to end."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

from examples.lightning.train import Regressor, loaders
from trainables.lightning import TunerCallback
from trainables.lr import TunerError
from trainables.reporting import MemoryReporter
from tuner.api import run_space

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "n_epochs": 3,
    "layers": "auto",
    "learning_rate": {"body": 1e-2, "head": 2e-2},
    "lr_scheduling": {"name": "MultiStepLR", "hyperparameters": {"milestones": [0.5]}},
}


def fit(config: dict, max_epochs: int | None = None) -> tuple[TunerCallback, pl.Trainer]:
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    callback = TunerCallback(config, reporter=MemoryReporter())
    trainer = pl.Trainer(
        max_epochs=max_epochs or config["n_epochs"],
        callbacks=[callback],
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(Regressor(), *loaders())
    return callback, trainer


def test_the_plan_is_the_modules_optimizer_and_every_epoch_is_reported() -> None:
    callback, trainer = fit(CONFIG)
    assert trainer.optimizers == [callback.plan.optimizer]  # not the module's own SGD(lr=0.1)
    reports = callback._epochs.reporter.reports
    assert [r["epoch"] for r in reports] == [1, 2, 3]
    # MultiStepLR at round(0.5 * 3) = 2: epochs 1, 2 at the base rates, epoch 3 at 0.1 x
    assert [r["lr/head"] for r in reports] == pytest.approx([2e-2, 2e-2, 2e-3], rel=1e-12)
    assert [r["lr/body"] for r in reports] == pytest.approx([1e-2, 1e-2, 1e-3], rel=1e-12)
    assert all({"train_loss", "val_loss"} <= set(r) for r in reports)
    assert reports[-1]["val_loss"] < reports[0]["val_loss"]
    assert callback.plan.clock.step == 3 * 12  # 384 samples / 32 per batch, every epoch


def test_a_trainer_running_other_epochs_than_the_config_is_refused() -> None:
    with pytest.raises(TunerError, match="max_epochs is 5, but the config's n_epochs is 3"):
        fit(CONFIG, max_epochs=5)


@pytest.mark.slow
def test_the_lightning_example_sweep(ray_local: None, tmp_path: Path, results_dir: Path) -> None:
    outcome = run_space(
        REPO / "examples" / "lightning" / "space.yaml", storage_path=str(results_dir)
    )
    study = outcome.experiment.load_study()
    assert len(study.trials) == 4
    curves = pd.read_parquet(outcome.experiment.dir / "curves.parquet")
    for trial in study.trials:
        epochs = max(trial.intermediate_values)
        assert trial.state == (TrialState.COMPLETE if epochs == 6 else TrialState.PRUNED)
        rows = curves[curves["trial_id"] == trial.user_attrs["ray_trial_id"]]
        head = trial.user_attrs["config"]["learning_rate"]["head"]["lr"]
        assert rows.iloc[0]["lr/head"] == pytest.approx(head, rel=1e-12)
        assert list(rows["val_loss"]) == [trial.intermediate_values[e] for e in rows["epoch"]]
    assert outcome.counts["COMPLETE"] >= 1 and outcome.counts["FAIL"] == 0
