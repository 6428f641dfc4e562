"""LRPlan: named groups, ratios kept by every schedule, preview, step clock, per-group schedules."""

from __future__ import annotations

import pytest
import torch

from tests.lr.helpers import BASE, HIER, make_model, train_epoch
from trainables.lr import SCHEDULES, SEED_GROUPS, TunerError, build_lr_plan, schedule_problems

SEED_EXAMPLES = {
    "MultiStepLR": {"milestones": [0.2, 0.5, 0.8], "gamma": 0.3},
    "StepLR": {"step_size": 3, "gamma": 0.5},
    "ExponentialLR": {"initial": 1e-3, "final": 1e-5},
    "ReduceLROnPlateau": {"factor": 0.5, "patience": 1},
    "Constant": {},
}
# every registered schedule that builds from its defaults, plus the seed's with their examples
RATIO_CASES = {n: {} for n in SCHEDULES if not schedule_problems({"name": n})} | SEED_EXAMPLES


@pytest.mark.parametrize("name", sorted(RATIO_CASES))
def test_group_ratios_are_identical_at_every_epoch_and_step(name: str) -> None:
    config = {
        "learning_rate": HIER,
        "lr_scheduling": {"name": name, "hyperparameters": RATIO_CASES[name]},
    }
    plan = build_lr_plan(make_model(), config, n_epochs=12, steps_per_epoch=3)
    losses = [3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
    factors = set()
    for epoch in range(12):
        for _ in range(3):
            lrs = plan.lrs()
            factors.add(round(lrs["decoder.shared"] / BASE["decoder.shared"], 12))
            for group, lr in lrs.items():
                assert lr / BASE[group] == pytest.approx(
                    lrs["decoder.shared"] / BASE["decoder.shared"], rel=1e-12
                ), (name, epoch, group)
            plan.step_batch()
        plan.step_epoch(train_loss=losses[epoch])
    if name in SEED_EXAMPLES and name != "Constant":
        assert len(factors) > 1, f"{name} never changed the lr in 12 epochs"


@pytest.mark.parametrize("name", sorted(SEED_EXAMPLES))
def test_preview_equals_the_lrs_of_a_real_run(name: str) -> None:
    hyper = {k: v for k, v in SEED_EXAMPLES[name].items()}
    learning_rate = {**HIER, "decoder": {"lr": 3e-3, "unfreeze_at": 2, "freeze_after": 7}}
    config = {
        "learning_rate": learning_rate,
        "lr_scheduling": {"name": name, "hyperparameters": hyper},
    }
    model = make_model()
    plan = build_lr_plan(model, config, n_epochs=10)
    preview = plan.preview()
    assert list(preview.columns) == list(SEED_GROUPS)
    assert list(preview.index) == list(range(10)) and preview.index.name == "epoch"
    for epoch in range(10):
        assert plan.lrs() == preview.loc[epoch].to_dict(), epoch
        # a loss that keeps improving: the plateau rule never fires, as the preview assumes
        plan.step_epoch(train_loss=10.0 - epoch)
    open_epochs = [e for e, lr in enumerate(preview["decoder.shared"]) if lr > 0]
    assert open_epochs == [2, 3, 4, 5, 6]  # unfreeze_at 2, freeze_after 7


def test_preview_does_not_touch_the_running_plan() -> None:
    schedule = {"name": "ReduceLROnPlateau", "hyperparameters": {"patience": 0, "factor": 0.5}}
    plan = build_lr_plan(make_model(), {"lr_scheduling": schedule}, n_epochs=4)
    plan.step_epoch(train_loss=1.0)
    plan.step_epoch(train_loss=1.0)
    before = plan.lrs()
    assert before["decoder.shared"] == pytest.approx(5e-4, rel=1e-12)
    assert plan.preview().loc[3, "decoder.shared"] == 1e-3
    assert plan.lrs() == before


def test_one_param_group_per_named_group_with_its_name(model) -> None:
    plan = build_lr_plan(model, {"learning_rate": 1e-3}, n_epochs=5)
    groups = plan.optimizer.param_groups
    assert [g["name"] for g in groups] == list(SEED_GROUPS)
    by_name = model.lr_groups()
    for group in groups:
        assert [id(p) for p in group["params"]] == [id(p) for p in by_name[group["name"]]]


def test_a_leaf_schedule_overrides_lr_scheduling_for_its_groups() -> None:
    config = {
        "learning_rate": {
            "encoder": {"lr": 1e-3, "schedule": {"name": "Constant"}},
            "dsr": {
                "subjects": {
                    "lr": 1e-2,
                    "schedule": {
                        "name": "StepLR",
                        "hyperparameters": {"step_size": 1, "gamma": 0.5},
                    },
                }
            },
        },
        "lr_scheduling": {"name": "MultiStepLR", "hyperparameters": {"milestones": [0.5]}},
    }
    plan = build_lr_plan(make_model(), config, n_epochs=4)
    rows = []
    for _ in range(4):
        rows.append(plan.lrs())
        plan.step_epoch(train_loss=1.0)
    assert [r["encoder.shared"] for r in rows] == [1e-3] * 4
    assert [r["encoder.subjects"] for r in rows] == [1e-3] * 4
    assert [r["dsr.subjects"] for r in rows] == pytest.approx(
        [1e-2, 5e-3, 2.5e-3, 1.25e-3], rel=1e-12
    )
    assert [r["decoder.shared"] for r in rows] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4], rel=1e-12)
    assert [r["dsr.shared"] for r in rows] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4], rel=1e-12)


def test_stepwise_schedule_moves_with_step_batch() -> None:
    schedule = {
        "name": "LinearWarmup",
        "hyperparameters": {"num_warmup_steps": 4, "num_training_steps": 20},
    }
    assert not schedule_problems(schedule)
    plan = build_lr_plan(
        make_model(),
        {"learning_rate": 1e-3, "lr_scheduling": schedule},
        n_epochs=5,
        steps_per_epoch=4,
    )
    seen = []
    for _ in range(4):
        seen.append(plan.lrs()["encoder.shared"])
        plan.step_batch()
    assert seen == pytest.approx([0.0, 2.5e-4, 5e-4, 7.5e-4], rel=1e-12, abs=1e-18)
    assert plan.clock.step == 4


def test_stepwise_schedule_without_step_batch_is_refused() -> None:
    schedule = {"name": "CyclicLR"}
    plan = build_lr_plan(make_model(), {"lr_scheduling": schedule}, n_epochs=5, steps_per_epoch=4)
    with pytest.raises(TunerError, match="step_batch"):
        plan.step_epoch(train_loss=1.0)


def test_training_through_the_plan_moves_every_group(model) -> None:
    before = {n: [p.detach().clone() for p in ps] for n, ps in model.lr_groups().items()}
    plan = build_lr_plan(model, {"learning_rate": 1e-2}, n_epochs=2)
    train_epoch(model, plan, 0)
    for name, params in model.lr_groups().items():
        assert any(not (a == b).all() for a, b in zip(before[name], params, strict=True)), name


def test_step_epoch_takes_tensors_and_ignores_non_numeric_metrics() -> None:
    schedule = {"name": "ReduceLROnPlateau", "hyperparameters": {"patience": 0, "metric": "val"}}
    plan = build_lr_plan(make_model(), {"lr_scheduling": schedule}, n_epochs=4)
    loss = torch.tensor(2.0, requires_grad=True) * 1.0
    plan.step_epoch(train_loss=loss, val=torch.tensor(1.0), note="diverged", flag=None)
    plan.step_epoch(train_loss=loss, val=torch.tensor(1.0))
    assert plan.lrs()["decoder.shared"] == pytest.approx(1e-4, rel=1e-12)
    with pytest.raises(TunerError, match="'val'"):
        plan.step_epoch(train_loss=1.0, val="n/a")
