"""Each group's effective learning rate, derived from a trial's config with the LR library.

A trial's config says what was sampled (a base lr, per-level multipliers, the number form with
`dsr_subject_multiplier`); `LRSpec` resolves it into the lr each named group really starts with.
These become the `lr/<component>/<level>` columns of the trials table, the same names the DSR
trainable reports per epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainables.lr import ConfigError, LRSpec

#: config keys whose presence means the trial used the LR library
_LR_MARKERS = ("learning_rate", "groups")


def lr_column(group: str) -> str:
    """'encoder.shared' -> 'lr/encoder/shared' (the key the DSR trainable reports)."""
    return "lr/" + group.replace(".", "/")


def uses_lr_library(config: Any) -> bool:
    """True when the trial's config has the LR library's keys (`learning_rate` or `groups`)."""
    return isinstance(config, Mapping) and any(k in config for k in _LR_MARKERS)


def effective_lrs(
    config: Mapping[str, Any], group_names: Sequence[str] | None = None
) -> dict[str, float]:
    """`{lr/<component>/<level>: base lr}` in group order; {} when the config has no LR keys or
    does not validate against `group_names` (then nothing trustworthy can be derived).

    >>> effective_lrs({"learning_rate": 1e-3})["lr/dsr/subjects"]
    0.01
    """
    if not uses_lr_library(config):
        return {}
    try:
        spec = LRSpec.from_config(config, group_names)
    except (ConfigError, TypeError):
        return {}
    return {lr_column(g.name): float(g.lr) for g in spec.groups}


def experiment_groups(exp_dir: str | Path) -> tuple[str, ...] | None:
    """The group names of the sweep's trainable, as `run` recorded them in experiment.json;
    None when not recorded (a folder made before they were). Nothing is imported: a folder's
    space file may name any module, and reading a folder must never run it."""
    from tuner.experiment import load_experiment

    try:
        return load_experiment(exp_dir).group_names
    except ConfigError:
        return None
