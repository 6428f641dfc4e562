"""Search spaces choose among any registered schedule: SpeechBrain's, combinators and curves alike.

A space file's `search.lr_scheduling` is checked against the registry, and every seeded sample is
checked by the trainable before Ray starts; here the samples are also previewed over a run.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.lr.test_registry_all import CASES
from trainables.lr import SCHEDULES, SEED_GROUPS, ConfigError, lr_config_problems
from trainables.lr.preview import preview_config
from tuner.space import parse_space, sample_configs

CHOICE = {
    "NoamScheduler": {"n_warmup_steps": {"int": [10, 100]}},
    "Sequential": {
        "schedules": [
            {"name": "Warmup", "hyperparameters": {"warmup": 1.0}},
            {"name": "ReduceLROnPlateau", "hyperparameters": {"patience": 2}},
        ],
        "fractions": [0.2, 0.8],
    },
    "Cosine": {
        "min_lr_ratio": {"log_uniform": [1e-3, 1e-1]},
        "unit": {"choice": ["epoch", "step"]},
    },
}


def _space(lr_scheduling: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "schedules",
        "trainable": "dsr",
        "n_epochs": 10,
        "metric": "score",
        "mode": "min",
        "search": {
            "learning_rate": {"lr": {"log_uniform": [1e-3, 1e-1]}},
            "lr_scheduling": lr_scheduling,
        },
    }


def test_a_space_choosing_speechbrain_combinator_and_curve_samples_and_validates() -> None:
    space = parse_space(_space({"choice": CHOICE}))  # 20 samples checked by the DSR trainable
    entry = space.resolve_trainable()
    configs = sample_configs(space, n=40, seed=3)
    assert {c["lr_scheduling"]["name"] for c in configs} == set(CHOICE)
    for config in configs:
        assert lr_config_problems(config, SEED_GROUPS) == [], config
        assert entry.config_problems(config) == [], config
        schedule = config["lr_scheduling"]
        hyper = schedule["hyperparameters"]
        if schedule["name"] == "NoamScheduler":
            assert isinstance(hyper["n_warmup_steps"], int) and 10 <= hyper["n_warmup_steps"] <= 100
        elif schedule["name"] == "Cosine":
            assert 1e-3 <= hyper["min_lr_ratio"] <= 1e-1 and hyper["unit"] in ("epoch", "step")
        else:
            assert hyper == CHOICE["Sequential"]
        frame = preview_config(config, n_epochs=10, steps_per_epoch=6)
        lrs = frame.drop(columns=[c for c in ("epoch",) if c in frame.columns])
        assert ((lrs >= 0) & lrs.map(math.isfinite)).all().all()
        assert lrs.max().max() > 0
        stepwise = schedule["name"] == "NoamScheduler" or hyper.get("unit") == "step"
        assert frame.index.name == ("step" if stepwise else "epoch")


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_a_space_can_name_every_registered_schedule(name: str) -> None:
    space = parse_space(_space({"name": name, "hyperparameters": CASES[name].hyper}))
    config = sample_configs(space, n=1, seed=0)[0]
    assert config["lr_scheduling"] == {"name": name, "hyperparameters": CASES[name].hyper}


def test_misnamed_and_out_of_range_schedule_hyperparameters_are_located() -> None:
    bad = {
        "choice": {
            "Noam": {"n_warmup": 10},
            "Cosine": {"min_lr_ratio": {"uniform": [0.5, 2.0]}},
        }
    }
    with pytest.raises(ConfigError) as caught:
        parse_space(_space(bad))
    text = str(caught.value)
    assert "search.lr_scheduling.choice.Noam.n_warmup is not a hyperparameter of Noam" in text
    assert "did you mean 'n_warmup_steps'?" in text
    bad = {"choice": {"Cosine": {"min_lr_ratio": {"uniform": [0.5, 2.0]}}}}
    with pytest.raises(ConfigError, match=r"search\.lr_scheduling\.choice\.Cosine\.min_lr_ratio"):
        parse_space(_space(bad))
