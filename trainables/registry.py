"""TRAINABLES: every trainable a space file may name, keyed by its YAML name.

Each entry gives the Ray Tune function trainable, the function that lists a config's problems
before Ray starts, the names of its parameter groups and a one-line description. A new trainable
is registered by adding an entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from trainables.dsr import dsr_config_problems, dsr_trainable
from trainables.dsr.model import HierarchicalDSR
from trainables.finetune import (
    FINETUNE_GROUPS,
    FinetuneNet,
    finetune_config_problems,
    finetune_trainable,
)
from trainables.lr import SEED_GROUPS
from trainables.lr.errors import Problem


@dataclass(frozen=True)
class TrainableEntry:
    """One registered trainable."""

    name: str
    #: the Ray Tune function trainable: takes the flat sampled config, reports every epoch
    function: Callable[[dict[str, Any]], None]
    #: every problem of a flat config (LR keys and settings), [] when it is valid
    config_problems: Callable[[Any], list[Problem]]
    #: the `component.level` parameter groups its model exposes
    groups: tuple[str, ...]
    description: str
    #: a small instance of its model, to check LR configs against without training
    build_model: Callable[[], nn.Module] | None = None


TRAINABLES: dict[str, TrainableEntry] = {
    "dsr": TrainableEntry(
        name="dsr",
        function=dsr_trainable,
        config_problems=dsr_config_problems,
        groups=tuple(SEED_GROUPS),
        description="hierarchical PLRNN on 8 noisy Lorenz-63 subjects (encoder, decoder, DSR)",
        build_model=lambda: HierarchicalDSR(n_subjects=3, obs_dim=5),
    ),
    "finetune": TrainableEntry(
        name="finetune",
        function=finetune_trainable,
        config_problems=finetune_config_problems,
        groups=FINETUNE_GROUPS,
        description="MLP pretrained on half the digits, fine-tuned layer by layer with a new head",
        build_model=FinetuneNet,
    ),
}
