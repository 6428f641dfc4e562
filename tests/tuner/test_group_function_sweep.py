"""A sweep over a user model whose groups come from a declared function (`fixed.groups:
"pkg.mod:fn"`, names declared once), searching each group's own lr, per-group optimizer
hyperparameters and the optimizer itself: what reaches torch is what Optuna recorded, and the
tables show the model's own groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from optuna.trial import TrialState
from torch import nn

from tests.tuner.spaces import ray_curves
from trainables.declare import groups, trainable
from trainables.lr import build_lr_plan
from trainables.reporting import epoch_reporter
from tuner.api import run_space
from tuner.results import load
from tuner.space import parse_space

HERE = "tests.tuner.test_group_function_sweep"


@groups(names=("body", "head"))
def body_and_head(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    return {"body": list(model[0].parameters()), "head": list(model[2].parameters())}


@trainable
def train(config: dict) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x.sum(1, keepdim=True)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    plan = build_lr_plan(model, config, n_epochs=config["n_epochs"])
    reporter = epoch_reporter(model, plan, config)
    for _ in reporter.epochs():
        loss = nn.functional.mse_loss(model(x), y)
        plan.optimizer.zero_grad()
        loss.backward()
        plan.optimizer.step()
        plan.step_epoch()
        seen = {f"{key}/{g['name']}": float(g[key]) for g in plan.optimizer.param_groups
                for key in ("momentum", "dampening") if key in g}  # fmt: skip
        reporter.report({"val_loss": loss.item(), **seen})


SPACE = {
    "name": "own_groups",
    "trainable": f"{HERE}:train",
    "n_epochs": 3,
    "metric": "val_loss",
    "mode": "min",
    "num_samples": 4,
    "fixed": {"groups": f"{HERE}:body_and_head"},
    "search": {
        "learning_rate": {
            "lr": {"log_uniform": [1e-3, 1e-1]},
            "lrs": {"head": {"log_uniform": [1e-4, 1e-2]}},
            "optimizer": {"body": {"dampening": {"uniform": [0.0, 0.5]}}},
        },
        "optimizer": {"name": "SGD", "hyperparameters": {"momentum": {"uniform": [0.5, 0.95]}}},
    },
    "searcher": {"name": "tpe", "seed": 0, "n_startup_trials": 2},
    "asha": None,
}


def test_the_names_declared_on_the_function_are_the_searched_groups() -> None:
    space = parse_space(SPACE)
    assert space.group_names() == ("body", "head")
    undeclared = {**SPACE, "fixed": {"groups": f"{HERE}:train"}}
    with pytest.raises(Exception, match=f"'{HERE}:train' does not declare itself a groups func"):
        parse_space(undeclared)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_each_groups_sampled_settings_reach_torch_and_the_tables(
    tmp_path: Path, results_dir: Path
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({**SPACE, "storage_path": str(results_dir)}))
    outcome = run_space(path)
    study = outcome.experiment.load_study()
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    curves = ray_curves(outcome.experiment.dir)
    for trial in study.trials:
        params = trial.params
        assert set(params) == {
            "learning_rate/lr",
            "learning_rate/head/lr",
            "learning_rate/body/optimizer/dampening",
            "optimizer/SGD/momentum",
        }
        first = curves[trial.user_attrs["ray_trial_id"]][0]
        assert first["lr/body"] == params["learning_rate/lr"]
        assert first["lr/head"] == params["learning_rate/head/lr"]
        assert first["momentum/body"] == first["momentum/head"] == params["optimizer/SGD/momentum"]
        assert first["dampening/body"] == params["learning_rate/body/optimizer/dampening"]
        assert first["dampening/head"] == 0.0
    table = load(outcome.experiment.dir).trials
    assert sorted(c for c in table.columns if c.startswith("lr/")) == ["lr/body", "lr/head"]
