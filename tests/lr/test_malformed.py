"""Malformed configs: every one is rejected, naming its dotted path, the value and the fix."""

from __future__ import annotations

import pytest

from trainables.lr import SEED_GROUPS, ConfigError, LRSpec, lr_config_problems

MULTI = "MultiStepLR"
# (config, dotted path that must be named, fragment of the rule or fix)
MALFORMED = {
    "negative lr": ({"learning_rate": -1e-3}, "learning_rate", "> 0"),
    "zero lr": ({"learning_rate": 0}, "learning_rate", "> 0"),
    "nan lr": ({"learning_rate": float("nan")}, "learning_rate", "finite"),
    "bool lr": ({"learning_rate": True}, "learning_rate", "must be"),
    "text lr": ({"learning_rate": "fast"}, "learning_rate", "must be"),
    "list of three": ({"learning_rate": [1e-3, 1e-2, 1e-1]}, "learning_rate", "[general_lr"),
    "list with zero": ({"learning_rate": [1e-3, 0]}, "learning_rate[1]", "> 0"),
    "unknown component": (
        {"learning_rate": {"encodr": {"lr": 1e-3}}},
        "learning_rate.encodr",
        "did you mean 'encoder'",
    ),
    "decoder subjects": (
        {"learning_rate": {"decoder": {"subjects": {"lr": 1e-3}}}},
        "learning_rate.decoder.subjects",
        "the decoder has only 'shared' parameters",
    ),
    "decoder subjects in a leaf": (
        {"learning_rate": {"decoder": {"lr": 1e-3, "subjects": {"lr": 1e-3}}}},
        "learning_rate.decoder.subjects",
        "the decoder has only 'shared' parameters",
    ),
    "unknown level": (
        {"learning_rate": {"encoder": {"subject": {"lr": 1e-3}}}},
        "learning_rate.encoder.subject",
        "did you mean 'subjects'",
    ),
    "misspelt lr of a component": (
        {"learning_rate": {"encoder": {"lrr": 1e-3}}},
        "learning_rate.encoder.lrr",
        "did you mean 'lr'",
    ),
    "empty component": ({"learning_rate": {"dsr": {}}}, "learning_rate.dsr", "must be a leaf"),
    "leaf and levels mixed": (
        {"learning_rate": {"dsr": {"lr": 1e-3, "shared": {"lr": 1e-3}}}},
        "learning_rate.dsr.shared",
        "either a leaf",
    ),
    "misspelt leaf key": (
        {"learning_rate": {"encoder": {"lr": 1e-3, "freez_after": 5}}},
        "learning_rate.encoder.freez_after",
        "did you mean 'freeze_after'",
    ),
    "leaf without lr": (
        {"learning_rate": {"dsr": {"freeze_after": 5}}},
        "learning_rate.dsr.lr",
        "missing",
    ),
    "negative level lr": (
        {"learning_rate": {"dsr": {"subjects": {"lr": -1}}}},
        "learning_rate.dsr.subjects.lr",
        "> 0",
    ),
    "fractional freeze_after": (
        {"learning_rate": {"encoder": {"lr": 1e-3, "freeze_after": 2.5}}},
        "learning_rate.encoder.freeze_after",
        "whole number",
    ),
    "negative freeze_after": (
        {"learning_rate": {"encoder": {"lr": 1e-3, "freeze_after": -1}}},
        "learning_rate.encoder.freeze_after",
        "whole number",
    ),
    "text unfreeze_at": (
        {"learning_rate": {"encoder": {"shared": {"lr": 1e-3, "unfreeze_at": "5"}}}},
        "learning_rate.encoder.shared.unfreeze_at",
        "whole number",
    ),
    "unfreeze after freeze": (
        {"learning_rate": {"encoder": {"lr": 1e-3, "freeze_after": 5, "unfreeze_at": 5}}},
        "learning_rate.encoder.unfreeze_at",
        "< freeze_after",
    ),
    "negative weight decay": (
        {"learning_rate": {"encoder": {"lr": 1e-3, "weight_decay": -0.1}}},
        "learning_rate.encoder.weight_decay",
        ">= 0",
    ),
    "component not a leaf": (
        {"learning_rate": {"encoder": [1e-3]}},
        "learning_rate.encoder",
        "leaf",
    ),
    "multiplier zero": (
        {"learning_rate": 1e-3, "dsr_subject_multiplier": 0},
        "dsr_subject_multiplier",
        "> 0",
    ),
    "multiplier with a list": (
        {"learning_rate": [1e-3, 1e-2], "dsr_subject_multiplier": 5},
        "dsr_subject_multiplier",
        "no effect",
    ),
    "unknown schedule": (
        {"lr_scheduling": {"name": "MultiStepLRR"}},
        "lr_scheduling.name",
        "did you mean 'MultiStepLR'",
    ),
    "milestone of 1": (
        {"lr_scheduling": {"name": MULTI, "hyperparameters": {"milestones": [0.5, 1.0]}}},
        "lr_scheduling.hyperparameters.milestones",
        "between 0 and 1",
    ),
    "milestone as an epoch": (
        {"lr_scheduling": {"name": MULTI, "hyperparameters": {"milestones": [20, 80]}}},
        "lr_scheduling.hyperparameters.milestones",
        "fractions",
    ),
    "gamma zero": (
        {"lr_scheduling": {"name": MULTI, "hyperparameters": {"milestones": [0.5], "gamma": 0}}},
        "lr_scheduling.hyperparameters.gamma",
        "greater than 0",
    ),
    "negative exponential gamma": (
        {"lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"gamma": -0.9}}},
        "lr_scheduling.hyperparameters.gamma",
        "greater than 0",
    ),
    "exponential with both forms": (
        {
            "lr_scheduling": {
                "name": "ExponentialLR",
                "hyperparameters": {"gamma": 0.9, "initial": 1e-3, "final": 1e-5},
            }
        },
        "lr_scheduling.hyperparameters",
        "not both",
    ),
    "exponential initial only": (
        {"lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"initial": 1e-3}}},
        "lr_scheduling.hyperparameters",
        "both initial and final",
    ),
    "steplr without step_size": (
        {"lr_scheduling": {"name": "StepLR"}},
        "lr_scheduling.hyperparameters.step_size",
        "missing",
    ),
    "plateau unknown mode": (
        {"lr_scheduling": {"name": "ReduceLROnPlateau", "hyperparameters": {"mode": "minimum"}}},
        "lr_scheduling.hyperparameters.mode",
        "'min' or 'max'",
    ),
    "plateau factor 1": (
        {"lr_scheduling": {"name": "ReduceLROnPlateau", "hyperparameters": {"factor": 1.0}}},
        "lr_scheduling.hyperparameters.factor",
        "less than 1",
    ),
    "plateau absolute min_lr": (
        {"lr_scheduling": {"name": "ReduceLROnPlateau", "hyperparameters": {"min_lr": 1e-6}}},
        "lr_scheduling.hyperparameters.min_lr",
        "not a known key",
    ),
    "schedule extra key": (
        {"lr_scheduling": {"name": MULTI, "hyperparams": {}}},
        "lr_scheduling.hyperparams",
        "not a known key",
    ),
    "schedule not a mapping": ({"lr_scheduling": [MULTI]}, "lr_scheduling", "mapping"),
    "bad leaf schedule": (
        {"learning_rate": {"dsr": {"subjects": {"lr": 1e-2, "schedule": {"name": "Expo"}}}}},
        "learning_rate.dsr.subjects.schedule.name",
        "not a known schedule",
    ),
    "unknown optimizer": (
        {"optimizer": {"name": "adamw"}},
        "optimizer.name",
        "did you mean 'AdamW'",
    ),
    "lr inside the optimizer": (
        {"optimizer": {"name": "SGD", "hyperparameters": {"lr": 0.1}}},
        "optimizer.hyperparameters.lr",
        "learning_rate",
    ),
    "misspelt optimizer setting": (
        {"optimizer": {"name": "SGD", "hyperparameters": {"momentun": 0.9}}},
        "optimizer.hyperparameters.momentun",
        "did you mean 'momentum'",
    ),
    "negative momentum": (
        {"optimizer": {"name": "SGD", "hyperparameters": {"momentum": -0.9}}},
        "optimizer.hyperparameters.momentum",
        "greater than or equal to 0",
    ),
    "groups not a mapping": ({"groups": ["encoder.*"]}, "groups", "mapping"),
    "group without patterns": ({"groups": {"encoder": []}}, "groups.encoder", "list of patterns"),
    "bad regular expression": (
        {"groups": {"encoder": ["re:enc(oder"]}},
        "groups.encoder[0]",
        "regular expression",
    ),
    "bad group name": (
        {"groups": {"encoder shared": ["enc*"]}},
        "groups.encoder shared",
        "group name",
    ),
}


def test_the_table_is_large_enough() -> None:
    assert len(MALFORMED) >= 30


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_config_is_rejected_naming_its_path(case: str) -> None:
    config, path, fragment = MALFORMED[case]
    problems = lr_config_problems(
        config, group_names=SEED_GROUPS if "groups" not in config else None
    )
    assert problems, case
    named = [p for p in problems if p.path == path]
    assert named, f"{case}: no problem at {path}: {[str(p) for p in problems]}"
    assert any(fragment in str(p) for p in named), [str(p) for p in named]
    with pytest.raises(ConfigError) as error:
        LRSpec.from_config(config, group_names=SEED_GROUPS if "groups" not in config else None)
    text = str(error.value)
    assert f"config: {path}: " in text or f"config: {path} " in text, text
    assert error.value.problems == tuple(problems)


def test_every_problem_is_reported_at_once() -> None:
    config = {
        "learning_rate": {"encoder": {"lr": -1}, "decoder": {"subjects": 1e-3}, "dssr": 1e-3},
        "lr_scheduling": {"name": MULTI, "hyperparameters": {"milestones": [2.0], "gama": 0.5}},
        "optimizer": {"name": "Adam", "hyperparameters": {"lr": 1e-3}},
    }
    paths = {p.path for p in lr_config_problems(config, group_names=SEED_GROUPS)}
    assert paths == {
        "learning_rate.encoder.lr",
        "learning_rate.decoder.subjects",
        "learning_rate.dssr",
        "lr_scheduling.hyperparameters.milestones",
        "lr_scheduling.hyperparameters.gama",
        "optimizer.hyperparameters.lr",
    }


def test_a_name_without_a_dot_is_a_component_without_levels() -> None:
    problems = lr_config_problems(
        {"learning_rate": {"body": {"shared": {"lr": 1e-3}}}}, group_names=("body", "head")
    )
    assert [p.path for p in problems] == ["learning_rate.body"]
    assert "leaf" in str(problems[0])


def test_a_list_needs_a_dsr_subjects_group() -> None:
    problems = lr_config_problems({"learning_rate": [1e-3, 1e-2]}, group_names=("body", "head"))
    assert [p.path for p in problems] == ["learning_rate[1]"]
    assert "no 'dsr.subjects' group" in str(problems[0])


def test_the_config_must_be_a_mapping() -> None:
    assert lr_config_problems([1e-3], group_names=SEED_GROUPS)  # type: ignore[arg-type]
