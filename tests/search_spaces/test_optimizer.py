"""The optimizer search: a choice of optimizers, each with its own conditional hyperparameters."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import FixedTrial
from pydantic import ValidationError

from search_spaces import SearchDef, define_search, search_problems
from trainables.lr.optimizers import OPTIMIZERS

KNOWN = {name: tuple(entry.params.model_fields) for name, entry in OPTIMIZERS.items()}
CHOICE = {
    "choice": {
        "Adam": {"betas": [{"uniform": [0.8, 0.95]}, 0.999], "eps": {"log_uniform": [1e-9, 1e-6]}},
        "SGD": {"momentum": {"uniform": [0.0, 0.99]}, "nesterov": {"choice": [False, True]}},
    }
}


def _sample(params: dict, raw: dict) -> tuple[dict, dict]:
    trial = FixedTrial(params)
    spec = SearchDef(optimizer=raw)
    return define_search(trial, spec, n_epochs=4, group_names=("model",)), trial.params


def test_only_the_chosen_optimizers_hyperparameters_are_sampled():
    out, params = _sample({"optimizer/name": "SGD", "optimizer/SGD/momentum": 0.9,
                           "optimizer/SGD/nesterov": True}, CHOICE)  # fmt: skip
    assert out == {"optimizer": {"name": "SGD", "hyperparameters": {"momentum": 0.9,
                                                                   "nesterov": True}}}  # fmt: skip
    assert set(params) == {"optimizer/name", "optimizer/SGD/momentum", "optimizer/SGD/nesterov"}
    out, params = _sample({"optimizer/name": "Adam", "optimizer/Adam/betas/0": 0.85,
                           "optimizer/Adam/eps": 1e-8}, CHOICE)  # fmt: skip
    assert out["optimizer"] == {"name": "Adam", "hyperparameters": {"betas": [0.85, 0.999],
                                                                    "eps": 1e-8}}  # fmt: skip


def test_one_optimizer_with_searched_hyperparameters_records_no_name():
    raw = {"name": "AdamW", "hyperparameters": {"weight_decay": {"log_uniform": [1e-4, 1e-1]}}}
    out, params = _sample({"optimizer/AdamW/weight_decay": 0.01}, raw)
    assert out["optimizer"] == {"name": "AdamW", "hyperparameters": {"weight_decay": 0.01}}
    assert params == {"optimizer/AdamW/weight_decay": 0.01}


def test_tpe_samples_the_conditional_space():
    spec = SearchDef(optimizer=CHOICE)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    names = set()
    for _ in range(12):
        trial = study.ask()
        out = define_search(trial, spec, n_epochs=4, group_names=("model",))["optimizer"]
        names.add(out["name"])
        assert set(out["hyperparameters"]) == set(CHOICE["choice"][out["name"]])
        study.tell(trial, 1.0)
    assert names == {"Adam", "SGD"}


def test_unknown_optimizers_and_hyperparameters_are_named_with_the_nearest():
    spec = SearchDef(optimizer={"choice": {"Adamm": None, "SGD": {"momentun": 0.9, "lr": 0.1}}})
    problems = [str(p) for p in search_problems(spec, group_names=("model",), schedules={},
                                                optimizers=KNOWN)]  # fmt: skip
    assert problems == [
        "search.optimizer.choice.Adamm: 'Adamm' is not a known optimizer: did you mean 'Adam'? "
        "(known: Adam, AdamW, RAdam, SGD)",
        "search.optimizer.choice.SGD.momentun is not a hyperparameter of SGD: did you mean "
        "'momentum'? (known: dampening, foreach, maximize, momentum, nesterov, weight_decay)",
        "search.optimizer.choice.SGD.lr is not a hyperparameter of SGD: (known: dampening, "
        "foreach, maximize, momentum, nesterov, weight_decay)",
    ]
    with pytest.raises(ValidationError, match="at least one optimizer"):
        SearchDef(optimizer={"choice": {}})
