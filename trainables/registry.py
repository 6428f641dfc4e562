"""TRAINABLES: every trainable a space file may name, keyed by its YAML name.

Each entry gives the Ray Tune function trainable (by import path), the function that lists a
config's problems before Ray starts, the names of its parameter groups and a one-line
description. A new trainable is registered by adding an entry here.

Importing the registry imports no torch, nor does checking configs with it: a sweep's driver
hands Ray `entry.worker_function`, which imports the trainable in the worker that calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainables._lazy import import_object, lazy_function
from trainables.dsr.population_settings import population_problems as dsr_population_problems
from trainables.dsr.settings import dsr_config_problems
from trainables.finetune.outline import FINETUNE_GROUPS
from trainables.finetune.settings import finetune_config_problems
from trainables.lr import SEED_GROUPS
from trainables.lr.errors import Problem

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class TrainableEntry:
    """One registered trainable."""

    name: str
    #: `package.module:function` of the Ray Tune function trainable
    function_path: str
    #: every problem of a flat config (LR keys and settings), [] when it is valid; needs no torch
    config_problems: Callable[[Any], list[Problem]]
    #: the `component.level` parameter groups its model exposes
    groups: tuple[str, ...]
    description: str
    #: a small instance of its model, to check LR configs against without training
    build_model: Callable[[], nn.Module] | None = None
    #: `package.module:function` training K configs as one population, None without support
    #: (`train(configs, reporter)`, see `trainables.population`)
    population_path: str | None = None
    #: why configs could not train as one population ([] when they can); needs no torch
    population_problems: Callable[[Any], list[Problem]] | None = None

    @property
    def function(self) -> Callable[[dict[str, Any]], None]:
        """The Ray Tune function trainable: takes the flat sampled config, reports every epoch.

        Importing it imports torch; `worker_function` is what a driver hands to Ray.
        """
        return import_object(self.function_path)

    @property
    def worker_function(self) -> Callable[[dict[str, Any]], None]:
        """A stand-in for `function` with its name, imported where it is called (in the worker)."""
        return lazy_function(self.function_path)


def small_dsr_model() -> nn.Module:
    """The DSR model with 3 subjects of 5 features."""
    from trainables.dsr.model import HierarchicalDSR

    return HierarchicalDSR(n_subjects=3, obs_dim=5)


def small_finetune_model() -> nn.Module:
    """The finetune model with its default sizes (no pretraining)."""
    from trainables.finetune.model import FinetuneNet

    return FinetuneNet()


TRAINABLES: dict[str, TrainableEntry] = {
    "dsr": TrainableEntry(
        name="dsr",
        function_path="trainables.dsr.trainable:dsr_trainable",
        config_problems=dsr_config_problems,
        groups=tuple(SEED_GROUPS),
        description="hierarchical PLRNN on 8 noisy Lorenz-63 subjects (encoder, decoder, DSR)",
        build_model=small_dsr_model,
        population_path="trainables.dsr.population:dsr_population_trainable",
        population_problems=dsr_population_problems,
    ),
    "finetune": TrainableEntry(
        name="finetune",
        function_path="trainables.finetune.trainable:finetune_trainable",
        config_problems=finetune_config_problems,
        groups=FINETUNE_GROUPS,
        description="MLP pretrained on half the digits, fine-tuned layer by layer with a new head",
        build_model=small_finetune_model,
    ),
}
