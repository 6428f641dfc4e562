"""The lr_scheduling search: a define-by-run choice with conditional hyperparameters."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import FixedTrial
from pydantic import ValidationError

from search_spaces import SchedulingDef, define_lr_scheduling, scheduling_problems

CHOICE = SchedulingDef.model_validate(
    {
        "choice": {
            "MultiStepLR": {"gamma": {"log_uniform": [0.05, 0.5]}, "milestones": [0.5, 0.8]},
            "ExponentialLR": {"gamma": {"uniform": [0.9, 0.99]}},
            "StepLR": {"step_size": {"int": [2, 8]}, "gamma": 0.5},
            "ReduceLROnPlateau": None,
        }
    }
)
KNOWN = {
    "MultiStepLR": ("gamma", "milestones"),
    "ExponentialLR": ("gamma", "initial", "final"),
    "StepLR": ("step_size", "gamma"),
    "ReduceLROnPlateau": ("mode", "factor", "patience"),
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"lr_scheduling/name": "MultiStepLR", "lr_scheduling/MultiStepLR/gamma": 0.1},
            {"name": "MultiStepLR", "hyperparameters": {"gamma": 0.1, "milestones": [0.5, 0.8]}},
        ),
        (
            {"lr_scheduling/name": "ExponentialLR", "lr_scheduling/ExponentialLR/gamma": 0.95},
            {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.95}},
        ),
        (
            {"lr_scheduling/name": "StepLR", "lr_scheduling/StepLR/step_size": 4},
            {"name": "StepLR", "hyperparameters": {"step_size": 4, "gamma": 0.5}},
        ),
        (
            {"lr_scheduling/name": "ReduceLROnPlateau"},
            {"name": "ReduceLROnPlateau", "hyperparameters": {}},
        ),
    ],
)
def test_fixed_trial_samples_only_the_chosen_schedules_hyperparameters(params, expected):
    # FixedTrial raises for a parameter it lacks, so asking for another branch would fail here
    trial = FixedTrial(params)
    assert define_lr_scheduling(trial, CHOICE) == expected
    assert trial.params == params


def test_a_real_study_records_conditional_parameters_per_branch():
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    chosen = set()
    for _ in range(40):
        trial = study.ask()
        out = define_lr_scheduling(trial, CHOICE)
        name = out["name"]
        chosen.add(name)
        searched = {k for k, d in CHOICE.options[name].items() if d.kind != "const"}
        own = {f"lr_scheduling/{name}/{k}" for k in searched}
        assert set(trial.params) == {"lr_scheduling/name", *own}
        assert set(out["hyperparameters"]) == set(CHOICE.options[name])
        study.tell(trial, out["hyperparameters"].get("gamma", 0.3))
    assert chosen == set(CHOICE.options)
    gammas = study.trials_dataframe()["params_lr_scheduling/ExponentialLR/gamma"].dropna()
    assert len(gammas) > 0 and gammas.between(0.9, 0.99).all()


def test_one_named_schedule_needs_no_choice_parameter():
    spec = SchedulingDef(name="ExponentialLR", hyperparameters={"gamma": {"uniform": [0.9, 0.99]}})
    trial = FixedTrial({"lr_scheduling/ExponentialLR/gamma": 0.92})
    assert define_lr_scheduling(trial, spec) == {
        "name": "ExponentialLR",
        "hyperparameters": {"gamma": 0.92},
    }
    assert define_lr_scheduling(FixedTrial({}), SchedulingDef(name="StepLR")) == {
        "name": "StepLR",
        "hyperparameters": {},
    }


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({}, "either 'choice'"),
        ({"name": "StepLR", "choice": {"StepLR": None}}, "either 'choice'"),
        ({"choice": {"StepLR": None}, "hyperparameters": {}}, "under each schedule"),
        ({"choice": {}}, "at least one schedule"),
        ({"name": "StepLR", "hyperparams": {}}, "Extra inputs"),
        ({"choice": {"StepLR": {"gamma": {"uniform": [0.9, 0.1]}}}}, "low < high"),
    ],
)
def test_malformed_scheduling_blocks_are_rejected(raw, needle):
    with pytest.raises(ValidationError, match=needle):
        SchedulingDef.model_validate(raw)


def test_unknown_names_are_reported_with_the_nearest_known_one():
    spec = SchedulingDef.model_validate(
        {"choice": {"MultiStepLRR": None, "StepLR": {"step_sise": 3}, "ExponentialLR": None}}
    )
    problems = [str(p) for p in scheduling_problems(spec, KNOWN)]
    assert problems == [
        "search.lr_scheduling.choice.MultiStepLRR: 'MultiStepLRR' is not a known schedule: "
        "did you mean 'MultiStepLR'? (known: ExponentialLR, MultiStepLR, ReduceLROnPlateau, "
        "StepLR)",
        "search.lr_scheduling.choice.StepLR.step_sise is not a hyperparameter of StepLR: "
        "did you mean 'step_size'? (known: gamma, step_size)",
    ]
    single = SchedulingDef(name="StepLR", hyperparameters={"gama": 0.1})
    (problem,) = scheduling_problems(single, KNOWN)
    assert problem.path == "search.lr_scheduling.hyperparameters.gama"
    assert scheduling_problems(CHOICE, KNOWN) == []
