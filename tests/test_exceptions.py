"""Every exception class of the project survives pickling (the Ray boundary) with its message."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import cloudpickle
import pytest

import search_spaces
import trainables
import tuner
from trainables.lr.errors import ConfigError, Problem, TunerError
from trainables.reporting import TrainingDiverged
from tuner._space_yaml import _TooBig
from tuner.ray_session import ClusterConnectionError
from tuner.trust import UntrustedFolder

PACKAGES = (trainables, tuner, search_spaces)
#: one instance of each class, with a message of several lines where the class takes problems
EXAMPLES: dict[type[BaseException], BaseException] = {
    TunerError: TunerError("step_batch() was not called this epoch"),
    ConfigError: ConfigError(
        [
            Problem("learning_rate.body", "is not a component of the model", "(known: model)"),
            Problem("groups.obs", "covers only fixed parameters: B"),
        ],
        source="space.yaml",
    ),
    TrainingDiverged: TrainingDiverged("train_loss is nan at epoch 3"),
    _TooBig: _TooBig("nests deeper than 50 levels"),
    UntrustedFolder: UntrustedFolder(
        "results/a: tuner.pkl is not signed with your key\nresume with --trust to load it anyway"
    ),
    ClusterConnectionError: ClusterConnectionError(
        "could not join the Ray cluster at 127.0.0.1:6379: set RAY_AUTH_MODE=token"
    ),
}


def project_exceptions() -> set[type[BaseException]]:
    """Every exception class defined in the project's packages (all modules imported)."""
    for package in PACKAGES:
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            try:
                importlib.import_module(module.name)
            except ImportError:  # an optional extra that is not installed
                continue
    found, todo = set(), [BaseException]
    while todo:
        for cls in todo.pop().__subclasses__():
            todo.append(cls)
            if cls.__module__.split(".")[0] in {p.__name__ for p in PACKAGES}:
                found.add(cls)
    return found


def test_every_project_exception_has_an_example() -> None:
    assert project_exceptions() == set(EXAMPLES)


@pytest.mark.parametrize("cls", sorted(EXAMPLES, key=lambda c: c.__qualname__))
@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_an_exception_pickles_to_the_same_message(cls: type[BaseException], dumps) -> None:
    error = EXAMPLES[cls]
    copy = pickle.loads(dumps(error))
    assert type(copy) is cls
    assert str(copy) == str(error)
    assert copy.args == error.args


def test_a_config_error_keeps_its_problems_and_source() -> None:
    copy = pickle.loads(pickle.dumps(EXAMPLES[ConfigError]))
    assert copy.problems == EXAMPLES[ConfigError].problems and copy.source == "space.yaml"
    assert str(copy).splitlines()[0] == (
        "space.yaml: learning_rate.body is not a component of the model: (known: model)"
    )
