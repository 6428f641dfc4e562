"""preview_lrs / preview_config: every group's lr per epoch or per step, equal to a real run's.

The reference is the LR plan itself, driven through a whole run: the lr it sets for every
optimizer step (per-step preview) or at the start of every epoch (per-epoch preview). Losses halve
every epoch, so no stateful rule reduces anything, as the preview assumes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.lr.helpers import make_model
from tests.lr.test_registry_all import CASES
from trainables.lr import ConfigError, build_lr_plan
from trainables.lr.preview import preview_config, preview_lrs
from trainables.lr.schedules.registry import SCHEDULES
from trainables.lr.spec import LRSpec

N, SPE = 8, 5
LEARNING_RATE = {
    "encoder": {"lr": 1e-3, "freeze_after": 5},
    "decoder": {"lr": 3e-3, "unfreeze_at": 2},
    "dsr": {"shared": {"lr": 2e-3}, "subjects": {"lr": 5e-2}},
}


def _config(schedule: dict[str, Any]) -> dict[str, Any]:
    return {"learning_rate": LEARNING_RATE, "lr_scheduling": schedule}


def _run(config: dict[str, Any]) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """The lrs a real plan sets: for every optimizer step, and at the start of every epoch."""
    plan = build_lr_plan(make_model(), config, n_epochs=N, steps_per_epoch=SPE)
    per_step, per_epoch = [], []
    for epoch in range(N):
        per_epoch.append(plan.lrs())
        for _ in range(SPE):
            per_step.append(plan.lrs())  # the lr this optimizer step uses
            plan.step_batch()
        plan.step_epoch(train_loss=100.0 * 0.5**epoch)
    return per_step, per_epoch


def _rows(frame: Any) -> list[dict[str, float]]:
    groups = [c for c in frame.columns if c != "epoch"]
    return [{g: float(row[g]) for g in groups} for _, row in frame.iterrows()]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_preview_equals_the_plans_lrs_over_a_run(name: str) -> None:
    """Step-wise schedules preview per step, epoch-wise ones per epoch, exactly as the plan."""
    config = _config({"name": name, "hyperparameters": CASES[name].hyper})
    frame = preview_config(config, n_epochs=N, steps_per_epoch=SPE)
    per_step, per_epoch = _run(config)
    if CASES[name].unit == "step":
        assert frame.index.name == "step" and list(frame.index) == list(range(N * SPE))
        assert list(frame["epoch"]) == [s // SPE for s in range(N * SPE)]
        assert _rows(frame) == per_step
    else:
        assert frame.index.name == "epoch" and list(frame.index) == list(range(N))
        assert "epoch" not in frame.columns
        assert _rows(frame) == per_epoch


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "OneCycle", "hyperparameters": {"unit": "step", "pct_start": 0.25}},
        {"name": "Cosine", "hyperparameters": {"unit": "step", "warmup": 0.1}},
        {
            "name": "Sequential",
            "hyperparameters": {
                "schedules": [
                    {"name": "Warmup", "hyperparameters": {"warmup": 1.0, "unit": "step"}},
                    {"name": "ReduceLROnPlateau"},
                ],
                "fractions": [0.25, 0.75],
            },
        },
    ],
    ids=lambda s: s["name"],
)
def test_curves_with_unit_step_preview_per_step(schedule: dict[str, Any]) -> None:
    frame = preview_config(_config(schedule), n_epochs=N, steps_per_epoch=SPE)
    assert frame.index.name == "step"
    assert _rows(frame) == _run(_config(schedule))[0]
    assert frame["encoder.shared"].iloc[5 * SPE :].eq(0).all()  # frozen after 5 epochs
    assert frame["decoder.shared"].iloc[: 2 * SPE].eq(0).all()  # frozen until epoch 2
    assert frame["dsr.shared"].nunique() > SPE  # moves within epochs, not once per epoch


def test_one_step_wise_group_makes_every_group_per_step() -> None:
    learning_rate = {
        **LEARNING_RATE,
        "dsr": {
            "shared": {"lr": 2e-3},
            "subjects": {
                "lr": 5e-2,
                "schedule": {"name": "Noam", "hyperparameters": {"n_warmup_steps": 6}},
            },
        },
    }
    config = {
        "learning_rate": learning_rate,
        "lr_scheduling": {"name": "StepLR", "hyperparameters": {"step_size": 3}},
    }
    frame = preview_config(config, n_epochs=N, steps_per_epoch=SPE)
    assert frame.index.name == "step"
    assert _rows(frame) == _run(config)[0]
    # the epoch-wise groups hold their value through each epoch
    assert frame.groupby("epoch")["dsr.shared"].nunique().eq(1).all()
    assert frame.loc[6, "dsr.subjects"] == pytest.approx(5e-2, rel=1e-12)  # Noam peaks at 1


def test_per_step_on_request_and_per_epoch_on_request() -> None:
    spec = LRSpec.from_config(_config({"name": "Noam", "hyperparameters": {"n_warmup_steps": 4}}))
    every_epoch = preview_lrs(spec, N, SPE, per_step=False)
    every_step = preview_lrs(spec, N, SPE, per_step=True)
    assert every_epoch.index.name == "epoch" and len(every_epoch) == N
    for epoch in range(N):  # an epoch's row is its first step's
        assert (
            every_epoch.loc[epoch].to_dict()
            == every_step.drop(columns="epoch").loc[epoch * SPE].to_dict()
        )
    constant = LRSpec.from_config(_config({"name": "Constant"}))
    forced = preview_lrs(constant, 3, 2, per_step=True)
    assert list(forced.index) == list(range(6)) and list(forced["epoch"]) == [0, 0, 1, 1, 2, 2]


def test_epochs_limits_the_rows_not_the_budget() -> None:
    spec = LRSpec.from_config(_config({"name": "Noam", "hyperparameters": {"n_warmup_steps": 4}}))
    whole = preview_lrs(spec, N, SPE, per_step=None)
    head = preview_lrs(spec, N, SPE, epochs=3, per_step=None)
    assert len(head) == 3 * SPE
    assert head.equals(whole.iloc[: 3 * SPE])


def test_frozen_epochs_are_recorded_for_the_plot() -> None:
    frame = preview_config(_config({"name": "Constant"}), n_epochs=N)
    assert frame.attrs["frozen"] == {
        "encoder.shared": [5, 6, 7],
        "encoder.subjects": [5, 6, 7],
        "decoder.shared": [0, 1],
    }


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "Noam", "hyperparameters": {"n_warmup_steps": 4}},
        {"name": "Cosine", "hyperparameters": {"unit": "step"}},
    ],
    ids=lambda s: s["name"],
)
def test_step_wise_without_steps_per_epoch_is_refused(schedule: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="steps_per_epoch") as caught:
        preview_config(_config(schedule), n_epochs=N)
    if schedule["name"] == "Noam":  # builds without steps; the preview names the groups
        assert "encoder.shared (Noam)" in str(caught.value)


def test_per_step_needs_steps_per_epoch() -> None:
    spec = LRSpec.from_config(_config({"name": "Constant"}))
    with pytest.raises(ConfigError, match="steps_per_epoch is not given, but a per-step preview"):
        preview_lrs(spec, N, per_step=True)


def test_group_names_alone_need_no_model() -> None:
    config = {
        "learning_rate": {"backbone": {"lr": 1e-4, "freeze_after": 2}, "head": {"lr": 1e-2}},
        "lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.5}},
    }
    frame = preview_config(config, n_epochs=4, group_names=["backbone", "head"])
    assert list(frame.columns) == ["backbone", "head"]
    assert list(frame["backbone"]) == [1e-4, 5e-5, 0.0, 0.0]
    assert list(frame["head"]) == [1e-2, 5e-3, 2.5e-3, 1.25e-3]


def test_groups_patterns_of_the_config_are_the_groups() -> None:
    config = {
        "groups": {"body": ["layers.*"], "head": ["out.*"]},
        "learning_rate": {"body": {"lr": 1e-3}, "head": {"lr": 1e-2}},
    }
    frame = preview_config(config, n_epochs=2)
    assert list(frame.columns) == ["body", "head"] and list(frame["head"]) == [1e-2, 1e-2]


def test_plan_preview_per_step_is_the_plans_own_run() -> None:
    config = _config({"name": "CyclicLR", "hyperparameters": {"step_size": 3, "base_lr": 0.1}})
    plan = build_lr_plan(make_model(), config, n_epochs=N, steps_per_epoch=SPE)
    frame = plan.preview(per_step=True)
    assert frame.equals(preview_config(config, n_epochs=N, steps_per_epoch=SPE))
    assert _rows(frame) == _run(config)[0]
    assert list(plan.preview(3).index) == [0, 1, 2]  # per epoch unless asked
