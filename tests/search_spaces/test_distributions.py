"""Value declarations: what each kind samples, how Optuna records it, and what is rejected."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FixedTrial
from pydantic import TypeAdapter, ValidationError

from search_spaces import DistDef, FreezeDef, PositiveDef, ValueDef, resolve_freeze_after

VALUE = TypeAdapter(ValueDef)
POSITIVE = TypeAdapter(PositiveDef)
FREEZE = TypeAdapter(FreezeDef)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"log_uniform": [1e-4, 1e-1]}, FloatDistribution(1e-4, 1e-1, log=True)),
        ({"uniform": [0.05, 0.3]}, FloatDistribution(0.05, 0.3)),
        ({"uniform": [0.0, 1.0], "step": 0.25}, FloatDistribution(0.0, 1.0, step=0.25)),
        ({"int": [8, 64]}, IntDistribution(8, 64)),
        ({"int": [8, 64], "log": True}, IntDistribution(8, 64, log=True)),
        ({"int": [2, 10], "step": 2}, IntDistribution(2, 10, step=2)),
        ({"choice": [8, 16, 32]}, CategoricalDistribution([8, 16, 32])),
        ({"choice": [None, 0.5, 10]}, CategoricalDistribution([None, 0.5, 10])),
    ],
)
def test_each_kind_is_recorded_as_its_optuna_distribution(raw, expected):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    value = VALUE.validate_python(raw).suggest(trial, "x")
    assert trial.distributions == {"x": expected}
    assert expected._contains(expected.to_internal_repr(value))


@pytest.mark.parametrize("raw", [0.1, 3, "adam", True, None, [0.5, 0.8], {"const": {"a": 1}}])
def test_constants_are_returned_and_not_recorded(raw):
    dist = VALUE.validate_python(raw)
    trial = FixedTrial({})
    expected = raw["const"] if isinstance(raw, dict) else raw
    assert dist.kind == "const"
    assert dist.suggest(trial, "x") == expected
    assert trial.params == {}


def test_fixed_trial_gives_exactly_its_values():
    dist = VALUE.validate_python({"log_uniform": [1e-4, 1e-1]})
    assert dist.suggest(FixedTrial({"lr": 0.003}), "lr") == 0.003
    assert VALUE.validate_python({"int": [1, 9]}).suggest(FixedTrial({"n": 7}), "n") == 7


def test_non_primitive_choices_go_to_optuna_as_json_and_come_back_as_values():
    dist = VALUE.validate_python({"choice": [[0.5], [0.5, 0.8], "none"]})
    assert dist.suggest(FixedTrial({"m": "[0.5, 0.8]"}), "m") == [0.5, 0.8]
    assert dist.suggest(FixedTrial({"m": "none"}), "m") == "none"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {str(dist.suggest(study.ask(), "m")) for _ in range(30)}
    assert seen == {"[0.5]", "[0.5, 0.8]", "none"}


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"int": [4, 1]}, "low < high"),
        ({"uniform": [0.3, 0.3]}, "low < high"),
        ({"log_uniform": [0.0, 1.0]}, "must be > 0"),
        ({"log_unifrom": [1e-3, 1e-1]}, "Extra inputs"),
        ({"uniform": [0, 1], "choice": [1]}, "exactly one of"),
        ({}, "exactly one of"),
        ({"choice": []}, "at least 1 item"),
        ({"choice": [1, 1.0]}, "distinct"),
        ({"log_uniform": [1e-3, 1e-1], "step": 0.1}, "step is allowed only"),
        ({"int": [1, 9], "step": 1.5}, "whole number"),
        ({"uniform": [0.1, 0.9], "log": True}, "log is allowed only with int"),
        ({"int": [0, 9], "log": True}, "start at >= 1"),
        ({"uniform": [0.0, float("inf")]}, "finite"),
    ],
)
def test_malformed_declarations_are_rejected_with_the_rule(raw, needle):
    with pytest.raises(ValidationError, match=needle):
        VALUE.validate_python(raw)


@pytest.mark.parametrize(
    "raw", [0.0, -1.0, {"uniform": [0.0, 1.0]}, {"choice": [1.0, -2.0]}, "fast", True]
)
def test_rates_and_multipliers_must_be_positive(raw):
    with pytest.raises(ValidationError, match="> 0|above 0"):
        POSITIVE.validate_python(raw)


@pytest.mark.parametrize(
    "raw", [{"log_uniform": [1e-3, 1e-1]}, {"int": [1, 5]}, 2.5, {"choice": [1.0, 10.0]}]
)
def test_positive_declarations_pass(raw):
    assert isinstance(POSITIVE.validate_python(raw), DistDef)


@pytest.mark.parametrize(
    "raw", [1.5, 1.0, -1, True, "never", {"uniform": [0.0, 1.0]}, {"int": [-2, 5]}]
)
def test_bad_freeze_after_declarations_are_rejected(raw):
    with pytest.raises(ValidationError, match="freeze_after"):
        FREEZE.validate_python(raw)


@pytest.mark.parametrize(
    "raw",
    [None, 0, 12, 0.5, {"choice": [None, 10, 0.25]}, {"int": [0, 20]}, {"uniform": [0.2, 0.8]}],
)
def test_good_freeze_after_declarations_pass(raw):
    assert isinstance(FREEZE.validate_python(raw), DistDef)


@pytest.mark.parametrize(
    ("value", "n_epochs", "epoch"),
    [(None, 20, None), (7, 20, 7), (0, 20, 0), (0.5, 20, 10), (0.25, 10, 3), (0.3, 10, 3)],
)
def test_fractions_of_n_epochs_become_epochs_rounding_half_up(value, n_epochs, epoch):
    assert resolve_freeze_after(value, n_epochs) == epoch
