"""A user's own trainable: the `epoch_reporter` helper, and the worked example end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from optuna.trial import TrialState

from examples.user_model.train import Regressor, make_data, train
from tests.interruptions import KilledAfter, RunKilled
from trainables.lr import TunerError, build_lr_plan
from trainables.reporting import EpochReporter, MemoryReporter, epoch_reporter, in_tune_trial
from tuner.experiment import load_experiment
from tuner.space import load_space, sample_configs

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"learning_rate": 1e-2, "layer_decay": 0.5, "unfreeze": {"last_n": 2, "every": 1}}


def user_loop(reporter: MemoryReporter, n_epochs: int = 5, checkpoint_every: int = 1) -> None:
    """The example's loop, with the reporter given (the example builds its own)."""
    torch.manual_seed(0)
    x, y, x_val, y_val = make_data()
    model = Regressor(16)
    plan = build_lr_plan(model, CONFIG, n_epochs=n_epochs)
    helper = EpochReporter(model, plan, reporter, checkpoint_every=checkpoint_every)
    for _ in helper.epochs():
        for batch in torch.randperm(len(x)).split(64):
            loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
            plan.optimizer.zero_grad()
            loss.backward()
            plan.optimizer.step()
        with torch.no_grad():
            val_loss = torch.nn.functional.mse_loss(model(x_val), y_val).item()
        plan.step_epoch(train_loss=loss.item())
        helper.report({"val_loss": val_loss})


def test_reports_carry_epoch_metrics_and_the_lrs_in_force() -> None:
    reporter = MemoryReporter()
    user_loop(reporter)
    assert [r["epoch"] for r in reporter.reports] == [1, 2, 3, 4, 5]
    first, second = reporter.reports[:2]
    assert first["lr/head"] == 1e-2 and first["lr/block2"] == 5e-3
    assert first["lr/block1"] == 0.0 and second["lr/block1"] == 2.5e-3
    assert second["lr/embed"] == 0.0 and reporter.reports[2]["lr/embed"] == 1.25e-3
    assert reporter.reports[-1]["val_loss"] < 0.5 * first["val_loss"]


def test_a_killed_user_loop_resumes_exactly_from_its_checkpoint() -> None:
    whole = MemoryReporter()
    user_loop(whole)
    broken = KilledAfter(3)
    with pytest.raises(RunKilled):
        user_loop(broken, checkpoint_every=2)  # checkpoint at epoch 2, killed after 3
    resumed = MemoryReporter(broken.checkpoint)
    user_loop(resumed, checkpoint_every=2)
    assert [r["epoch"] for r in resumed.reports] == [3, 4, 5]
    assert resumed.reports == whole.reports[2:]


def test_an_epoch_without_a_report_is_an_error() -> None:
    model = Regressor(4)
    plan = build_lr_plan(model, {"learning_rate": 1e-3}, n_epochs=3)
    helper = epoch_reporter(model, plan, {"checkpoint_every": 2})
    assert isinstance(helper.reporter, MemoryReporter) and not in_tune_trial()
    assert helper.checkpoint_every == 2
    with pytest.raises(TunerError, match="epoch 1 ended without reporter.report"):
        for _ in helper.epochs():
            plan.step_epoch()


def test_the_example_runs_plainly() -> None:
    train({"learning_rate": 3e-3, "layer_decay": 0.7, "n_epochs": 2})


def test_every_sample_of_the_example_space_builds_on_the_users_model() -> None:
    space = load_space(REPO / "examples" / "user_model" / "space.yaml")
    assert space.group_names() == train.groups
    for config in sample_configs(space, n=20, seed=0):
        plan = build_lr_plan(Regressor(config["width"]), config, n_epochs=config["n_epochs"])
        assert plan.group_names == train.groups
        rates = config["learning_rate"]
        for depth, group in enumerate(reversed(train.groups)):
            spec_lr = plan.spec.group(group).lr
            assert spec_lr == pytest.approx(rates[group]["lr"] * config["layer_decay"] ** depth)


@pytest.mark.slow
def test_the_user_example_runs_end_to_end_through_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    command = ["run", "examples/user_model/space.yaml", "--storage-path", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-m", "tuner", *command],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    experiment = load_experiment(tmp_path / "user_model")
    study = experiment.load_study()
    states = [t.state for t in study.trials]
    assert len(states) == 4 and TrialState.RUNNING not in states and TrialState.FAIL not in states
    curves = pd.read_parquet(experiment.dir / "curves.parquet")
    for trial in study.trials:
        config = trial.user_attrs["config"]
        rows = curves[curves["trial_id"] == trial.user_attrs["ray_trial_id"]]
        assert list(rows["epoch"]) == list(range(1, len(rows) + 1))
        first = rows.iloc[0]
        head = config["learning_rate"]["head"]["lr"]
        embed = config["learning_rate"]["embed"]["lr"] * config["layer_decay"] ** 3
        assert first["lr/head"] == pytest.approx(head, rel=1e-12)
        frozen_at_start = config["unfreeze"] is not None
        assert first["lr/embed"] == (0.0 if frozen_at_start else pytest.approx(embed, rel=1e-12))
    best = yaml.safe_load((experiment.dir / "best_configs.yaml").read_text())
    assert "layer_decay" in yaml.safe_dump(best)
