"""The whole search block: one FixedTrial in, the exact seed-format config out."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import FixedTrial
from pydantic import ValidationError

from search_spaces import SearchDef, define_search, search_problems

GROUPS = ("encoder.shared", "encoder.subjects", "decoder.shared", "dsr.shared", "dsr.subjects")
SCHEDULES = {"MultiStepLR": ("gamma", "milestones"), "ExponentialLR": ("gamma",)}
SEARCH = SearchDef.model_validate(
    {
        "learning_rate": {
            "lr": {"log_uniform": [1e-3, 3e-2]},
            "multipliers": {"dsr.subjects": {"log_uniform": [1.0, 30.0]}},
            "freeze_after": {"encoder.subjects": {"choice": [None, 0.5]}},
        },
        "lr_scheduling": {
            "choice": {
                "MultiStepLR": {"gamma": {"log_uniform": [0.05, 0.5]}, "milestones": [0.5, 0.8]},
                "ExponentialLR": {"gamma": {"uniform": [0.9, 0.99]}},
            }
        },
        "settings": {
            "hidden_dim": {"choice": [8, 16, 32]},
            "alpha": {"uniform": [0.05, 0.3]},
            "batch_size": {"int": [8, 64], "log": True},
            "weight_decay": 1e-4,
        },
    }
)


def test_fixed_trial_gives_the_exact_config():
    trial = FixedTrial(
        {
            "learning_rate/lr": 0.01,
            "learning_rate/dsr/subjects/multiplier": 12.0,
            "learning_rate/encoder/subjects/freeze_after": 0.5,
            "lr_scheduling/name": "MultiStepLR",
            "lr_scheduling/MultiStepLR/gamma": 0.2,
            "hidden_dim": 16,
            "alpha": 0.1,
            "batch_size": 32,
        }
    )
    assert define_search(trial, SEARCH, n_epochs=30, group_names=GROUPS) == {
        "learning_rate": {
            "encoder": {
                "shared": {"lr": 0.01, "freeze_after": None},
                "subjects": {"lr": 0.01, "freeze_after": 15},
            },
            "decoder": {"shared": {"lr": 0.01, "freeze_after": None}},
            "dsr": {
                "shared": {"lr": 0.01, "freeze_after": None},
                "subjects": {"lr": 0.01 * 12.0, "freeze_after": None},
            },
        },
        "lr_scheduling": {
            "name": "MultiStepLR",
            "hyperparameters": {"gamma": 0.2, "milestones": [0.5, 0.8]},
        },
        "hidden_dim": 16,
        "alpha": 0.1,
        "batch_size": 32,
        "weight_decay": 1e-4,
    }


def test_dsr_subject_multiplier_is_its_own_key_in_the_number_form_and_folded_otherwise():
    number = SearchDef.model_validate(
        {"learning_rate": {"lr": 0.01}, "dsr_subject_multiplier": {"log_uniform": [1.0, 30.0]}}
    )
    trial = FixedTrial({"dsr_subject_multiplier": 5.0})
    assert define_search(trial, number, n_epochs=5, group_names=GROUPS) == {
        "learning_rate": 0.01,
        "dsr_subject_multiplier": 5.0,
    }
    assert number.output_keys() == {"learning_rate", "dsr_subject_multiplier"}
    alone = SearchDef.model_validate({"dsr_subject_multiplier": {"choice": [3.0, 10.0]}})
    trial = FixedTrial({"dsr_subject_multiplier": 3.0})
    assert define_search(trial, alone, n_epochs=5, group_names=GROUPS) == {
        "dsr_subject_multiplier": 3.0
    }
    mapping = SearchDef.model_validate(
        {
            "learning_rate": {"lr": 0.01, "freeze_after": {"decoder": 2}},
            "dsr_subject_multiplier": 5.0,
        }
    )
    out = define_search(FixedTrial({}), mapping, n_epochs=5, group_names=GROUPS)
    assert "dsr_subject_multiplier" not in out
    assert out["learning_rate"]["dsr"] == {
        "shared": {"lr": 0.01, "freeze_after": None},
        "subjects": {"lr": 0.01 * 5.0, "freeze_after": None},
    }
    assert mapping.output_keys() == {"learning_rate"}


def test_seeded_samples_repeat_exactly():
    def draw(seed: int) -> list[dict]:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        return [
            define_search(study.ask(), SEARCH, n_epochs=10, group_names=GROUPS) for _ in range(8)
        ]

    assert draw(4) == draw(4)
    assert draw(4) != draw(5)


def test_an_empty_search_samples_nothing():
    assert define_search(FixedTrial({}), SearchDef(), n_epochs=3, group_names=GROUPS) == {}


def test_unknown_top_level_keys_are_rejected():
    with pytest.raises(ValidationError, match="Extra inputs") as info:
        SearchDef.model_validate({"hidden_dim": {"choice": [8, 16]}})
    assert info.value.errors()[0]["loc"] == ("hidden_dim",)


def test_search_problems_name_each_path():
    spec = SearchDef.model_validate(
        {
            "learning_rate": {"lr": 0.01, "multipliers": {"encodr": 2.0}},
            "dsr_subject_multiplier": 3.0,
            "lr_scheduling": {"name": "Exponential"},
            "settings": {"lr_scheduling": {"const": {"name": "StepLR"}}},
        }
    )
    problems = search_problems(spec, group_names=("body", "head"), schedules=SCHEDULES)
    assert [p.path for p in problems] == [
        "search.learning_rate.multipliers.encodr",
        "search.dsr_subject_multiplier",
        "search.lr_scheduling.name",
        "search.settings.lr_scheduling",
    ]
    assert search_problems(SEARCH, group_names=GROUPS, schedules=SCHEDULES) == []
