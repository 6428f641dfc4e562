"""Every `learning_rate` form of the seed document gives exactly its documented rates."""

from __future__ import annotations

import pytest

from tests.lr.helpers import make_model
from trainables.lr import (
    DEFAULT_LR,
    SEED_GROUPS,
    LRSpec,
    build_lr_plan,
    lr_config_problems,
)

# The seed's examples, verbatim, with the rate each group must start at.
SEED_FORMS = {
    "float": (
        1e-3,
        {
            "encoder.shared": 1e-3,
            "encoder.subjects": 1e-3,
            "decoder.shared": 1e-3,
            "dsr.shared": 1e-3,
            "dsr.subjects": 1e-2,
        },
    ),
    "list": (
        [1e-3, 1e-2],
        {
            "encoder.shared": 1e-3,
            "encoder.subjects": 1e-3,
            "decoder.shared": 1e-3,
            "dsr.shared": 1e-3,
            "dsr.subjects": 1e-2,
        },
    ),
    "leaves": (
        {
            "encoder": {"lr": 1e-3, "freeze_after": 50},
            "decoder": {"lr": 2e-3, "freeze_after": None},
            "dsr": {"lr": 1e-3, "freeze_after": None},
        },
        {
            "encoder.shared": 1e-3,
            "encoder.subjects": 1e-3,
            "decoder.shared": 2e-3,
            "dsr.shared": 1e-3,
            "dsr.subjects": 1e-3,
        },
    ),
    "hierarchical": (
        {
            "encoder": {
                "shared": {"lr": 1e-4, "freeze_after": None},
                "subjects": {"lr": 1e-2, "freeze_after": 20},
            },
            "decoder": {"shared": {"lr": 1e-3, "freeze_after": None}},
            "dsr": {
                "shared": {"lr": 1e-3, "freeze_after": None},
                "subjects": {"lr": 1e-2, "freeze_after": None},
            },
        },
        {
            "encoder.shared": 1e-4,
            "encoder.subjects": 1e-2,
            "decoder.shared": 1e-3,
            "dsr.shared": 1e-3,
            "dsr.subjects": 1e-2,
        },
    ),
    "mixed": (
        {
            "encoder": {"lr": 1e-3, "freeze_after": None},
            "decoder": {"lr": 1e-3, "freeze_after": None},
            "dsr": {
                "shared": {"lr": 1e-4, "freeze_after": None},
                "subjects": {"lr": 5e-3, "freeze_after": None},
            },
        },
        {
            "encoder.shared": 1e-3,
            "encoder.subjects": 1e-3,
            "decoder.shared": 1e-3,
            "dsr.shared": 1e-4,
            "dsr.subjects": 5e-3,
        },
    ),
}


@pytest.mark.parametrize("form", sorted(SEED_FORMS))
def test_seed_form_start_rates(form: str) -> None:
    value, expected = SEED_FORMS[form]
    config = {"learning_rate": value}
    assert lr_config_problems(config, group_names=SEED_GROUPS) == []
    spec = LRSpec.from_config(config, group_names=SEED_GROUPS)
    assert {g.name: g.lr for g in spec.groups} == pytest.approx(expected, rel=1e-12, abs=0)
    plan = build_lr_plan(make_model(), config, n_epochs=100)
    assert plan.group_names == SEED_GROUPS
    assert plan.lrs() == pytest.approx(expected, rel=1e-12, abs=0)
    assert [g["name"] for g in plan.optimizer.param_groups] == list(SEED_GROUPS)


@pytest.mark.parametrize("form", sorted(SEED_FORMS))
def test_seed_form_after_milestones(form: str) -> None:
    """The seed's MultiStepLR example, [0.2, 0.8] of 100 epochs: x0.1 at epoch 20 and 80."""
    value, expected = SEED_FORMS[form]
    schedule = {"name": "MultiStepLR", "hyperparameters": {"gamma": 0.1, "milestones": [0.2, 0.8]}}
    plan = build_lr_plan(
        make_model(), {"learning_rate": value, "lr_scheduling": schedule}, n_epochs=100
    )
    spec = plan.spec
    seen = {}
    for epoch in range(100):
        seen[epoch] = plan.lrs()
        plan.step_epoch(train_loss=1.0)
    for epoch, factor in ((0, 1.0), (19, 1.0), (20, 0.1), (79, 0.1), (80, 0.01), (99, 0.01)):
        want = {
            name: 0.0 if spec.group(name).freeze.frozen(epoch) else lr * factor
            for name, lr in expected.items()
        }
        assert seen[epoch] == pytest.approx(want, rel=1e-12, abs=0), epoch


def test_freeze_after_from_the_seed_examples() -> None:
    value, _ = SEED_FORMS["hierarchical"]
    plan = build_lr_plan(make_model(), {"learning_rate": value}, n_epochs=30)
    for _ in range(20):
        assert plan.frozen()["encoder.subjects"] is False
        plan.step_epoch(train_loss=1.0)
    assert plan.frozen() == {name: name == "encoder.subjects" for name in SEED_GROUPS}
    assert plan.lrs()["encoder.subjects"] == 0.0


@pytest.mark.parametrize("multiplier", [1.0, 3.0, 25.0])
def test_dsr_subject_multiplier_scales_only_dsr_subjects(multiplier: float) -> None:
    spec = LRSpec.from_config(
        {"learning_rate": 2e-3, "dsr_subject_multiplier": multiplier}, group_names=SEED_GROUPS
    )
    lrs = {g.name: g.lr for g in spec.groups}
    assert lrs.pop("dsr.subjects") == pytest.approx(2e-3 * multiplier, rel=1e-12)
    assert set(lrs.values()) == {2e-3}


def test_defaults_without_learning_rate() -> None:
    """No learning_rate at all: DEFAULT_LR with the number form's rule (dsr subjects x10)."""
    spec = LRSpec.from_config({"batch_size": 32, "hidden": 64}, group_names=SEED_GROUPS)
    lrs = {g.name: g.lr for g in spec.groups}
    assert lrs == {**{n: DEFAULT_LR for n in SEED_GROUPS}, "dsr.subjects": DEFAULT_LR * 10}
    assert spec.schedule == {"name": "MultiStepLR", "hyperparameters": {}}
    assert spec.optimizer.name == "Adam"


def test_components_left_out_keep_the_default() -> None:
    spec = LRSpec.from_config(
        {"learning_rate": {"encoder": {"lr": 5e-4}}, "dsr_subject_multiplier": 4},
        group_names=SEED_GROUPS,
    )
    lrs = {g.name: g.lr for g in spec.groups}
    assert lrs == {
        "encoder.shared": 5e-4,
        "encoder.subjects": 5e-4,
        "decoder.shared": DEFAULT_LR,
        "dsr.shared": DEFAULT_LR,
        "dsr.subjects": DEFAULT_LR * 4,
    }


def test_a_level_left_out_keeps_the_default() -> None:
    spec = LRSpec.from_config(
        {"learning_rate": {"encoder": {"subjects": {"lr": 1e-2}}}}, group_names=SEED_GROUPS
    )
    assert spec.group("encoder.subjects").lr == 1e-2
    assert spec.group("encoder.shared").lr == DEFAULT_LR


def test_yaml_style_strings_and_bare_numbers() -> None:
    """PyYAML reads `1e-3` as a string; a bare number is the leaf {lr: number}."""
    spec = LRSpec.from_config(
        {"learning_rate": {"encoder": "1e-3", "decoder": {"shared": 2e-3}, "dsr": {"lr": "5e-4"}}},
        group_names=SEED_GROUPS,
    )
    assert [g.lr for g in spec.groups] == [1e-3, 1e-3, 2e-3, 5e-4, 5e-4]


def test_other_config_keys_are_ignored() -> None:
    config = {"learning_rate": 1e-3, "batch_size": 32, "tf_alpha": 0.2, "n_epochs": 100}
    assert lr_config_problems(config, group_names=SEED_GROUPS) == []


def test_leaf_settings_reach_the_group() -> None:
    spec = LRSpec.from_config(
        {
            "learning_rate": {
                "encoder": {"lr": 1e-3, "unfreeze_at": 5, "freeze_after": 40, "weight_decay": 0.1},
                "dsr": {"subjects": {"lr": 1e-2, "schedule": {"name": "Constant"}}},
            }
        },
        group_names=SEED_GROUPS,
    )
    encoder = spec.group("encoder.subjects")
    assert (encoder.freeze.unfreeze_at, encoder.freeze.freeze_after) == (5, 40)
    assert encoder.weight_decay == 0.1
    assert encoder.schedule is None
    assert spec.group("dsr.subjects").schedule == {"name": "Constant"}
    assert spec.group("dsr.shared").schedule is None


def test_the_spec_does_not_follow_later_changes_of_the_config() -> None:
    schedule = {"name": "MultiStepLR", "hyperparameters": {"milestones": [0.5]}}
    config = {
        "learning_rate": {"encoder": {"lr": 1e-3, "schedule": schedule}},
        "lr_scheduling": schedule,
    }
    spec = LRSpec.from_config(config, group_names=SEED_GROUPS)
    schedule["hyperparameters"]["milestones"].append(0.9)
    assert spec.schedule["hyperparameters"]["milestones"] == [0.5]
    assert spec.group("encoder.shared").schedule["hyperparameters"]["milestones"] == [0.5]
