"""The `learning_rate` search: a base lr times multipliers, or each group's own lr, per group.

```yaml
learning_rate:
  lr: {log_uniform: [1.0e-3, 3.0e-2]}          # the base lr
  multipliers:                                 # each a positive value or distribution
    encoder: {log_uniform: [0.3, 3.0]}         # a component: all its levels
    dsr.subjects: {log_uniform: [1.0, 30.0]}   # one group (component.level)
    "*.subjects": {choice: [1.0, 10.0]}        # one level in every component
  lrs: {head: {log_uniform: [1.0e-4, 1.0e-1]}} # a group's own lr (no base, no multipliers)
  freeze_after:                                # null, an epoch, or a fraction of n_epochs
    encoder.subjects: {choice: [null, 0.5]}
  unfreeze_at: {decoder: {choice: [null, 2]}}  # the same values, frozen until then
  weight_decay: {encoder: {log_uniform: [1.0e-5, 1.0e-2]}, dsr: 0.0}   # each >= 0
  optimizer: {decoder: {betas: [{uniform: [0.8, 0.95]}, 0.999]}}    # the group's hyperparameters
```

A group's lr is its `lrs` value where a key matches it (the most specific); otherwise the base lr
times every multiplier whose key matches it (and, for `dsr.subjects`, the searched
`dsr_subject_multiplier`). `lr` may be left out when `lrs` covers every group. Its
`freeze_after`, `unfreeze_at` and `weight_decay` come from the most specific key that matches
(group, then component, then `*.level`; a leaf carries `unfreeze_at`/`weight_decay` only when that
section is declared, null where no key matches); its `optimizer` hyperparameters merge every
matching key's, the more specific over the less. With only `lr` declared the output is the seed's
number form (`learning_rate: x`); otherwise it is the hierarchical mapping over every group of
the trainable, `{component: {level: {lr, freeze_after}}}`, so every group's lr is explicit (there
the number form's implicit 10x for `dsr.subjects` does not apply: only declared factors do).
Optuna parameters are named after the output path: `learning_rate` in the number form (what the
trainable receives), else `learning_rate/lr` for the base lr,
`learning_rate/encoder/multiplier`, `learning_rate/dsr/subjects/multiplier`,
`learning_rate/*/subjects/multiplier`, `learning_rate/encoder/subjects/freeze_after`,
`learning_rate/head/lr`, `learning_rate/decoder/optimizer/betas/0`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import optuna
from pydantic import BaseModel, ConfigDict, model_validator

from search_spaces.distributions import (
    FreezeDef,
    HyperDef,
    NonNegativeDef,
    PositiveDef,
    resolve_freeze_after,
    suggest_hyper,
)
from trainables.lr.errors import Problem, join_path, suggest

DSR_SUBJECTS = "dsr.subjects"
#: the sections keyed by group, component or `*.level`
KEYED_SECTIONS = (
    "lrs", "multipliers", "freeze_after", "unfreeze_at", "weight_decay", "optimizer"
)  # fmt: skip
#: the Optuna parameter of a lone searched lr (the number form): named as the config key it sets
LR_PARAM = "learning_rate"


class LearningRateDef(BaseModel):
    """The base lr, the groups' own lrs, and per-component, per-level and per-group multipliers,
    freezes, weight decays and optimizer hyperparameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: PositiveDef | None = None
    lrs: dict[str, PositiveDef] = {}
    multipliers: dict[str, PositiveDef] = {}
    freeze_after: dict[str, FreezeDef] = {}
    unfreeze_at: dict[str, FreezeDef] = {}
    weight_decay: dict[str, NonNegativeDef] = {}
    optimizer: dict[str, dict[str, HyperDef]] = {}

    @model_validator(mode="after")
    def _some_lr(self) -> LearningRateDef:
        if self.lr is None and not self.lrs:
            raise ValueError("needs lr (the base lr) or lrs (each group's own lr)")
        return self

    @property
    def is_number_form(self) -> bool:
        """Only the base lr is searched: the output is the seed's `learning_rate: x`."""
        return not any(getattr(self, section) for section in KEYED_SECTIONS)


def _split(name: str) -> tuple[str, str | None]:
    component, dot, level = name.partition(".")
    return component, (level if dot else None)


def key_matches(key: str, group: str) -> bool:
    """Whether a multiplier/freeze key (`comp`, `comp.level`, `*.level`) applies to `group`."""
    component, level = _split(group)
    key_component, key_level = _split(key)
    if key_level is None:
        return key_component == component
    return key_level == level and key_component in (component, "*")


def _specificity(key: str) -> int:
    component, level = _split(key)
    return 2 if level is not None and component != "*" else (1 if level is None else 0)


def param_name(key: str, what: str) -> str:
    """The Optuna parameter name of a multiplier/freeze key: `learning_rate/dsr/subjects/...`."""
    return "/".join(["learning_rate", *key.split("."), what])


def nest_groups(values: Mapping[str, Any]) -> dict[str, Any]:
    """`{"encoder.shared": leaf}` -> `{"encoder": {"shared": leaf}}`; no-level names stay."""
    out: dict[str, Any] = {}
    for group, leaf in values.items():
        component, level = _split(group)
        if level is None:
            out[component] = leaf
        else:
            out.setdefault(component, {})[level] = leaf
    return out


def define_learning_rate(
    trial: optuna.Trial,
    spec: LearningRateDef,
    *,
    n_epochs: int,
    group_names: Sequence[str],
    dsr_subject_multiplier: float | None = None,
) -> dict[str, Any]:
    """Sample `learning_rate` (and `dsr_subject_multiplier` in the number form) in seed format.

    E.g. `LearningRateDef(lr={"log_uniform": [1e-3, 1e-1]})` with trial parameter
    `learning_rate = 0.01` gives `{"learning_rate": 0.01}`.
    """
    base = None
    if spec.lr is not None:
        base = spec.lr.suggest(trial, LR_PARAM if spec.is_number_form else "learning_rate/lr")
    if spec.is_number_form:
        out: dict[str, Any] = {"learning_rate": base}
        if dsr_subject_multiplier is not None:
            out["dsr_subject_multiplier"] = dsr_subject_multiplier
        return out
    multipliers = {
        key: dist.suggest(trial, param_name(key, "multiplier"))
        for key, dist in sorted(spec.multipliers.items())
    }
    freezes = {
        k: resolve_freeze_after(d.suggest(trial, param_name(k, "freeze_after")), n_epochs)
        for k, d in sorted(spec.freeze_after.items())
    }
    unfreezes = {
        k: resolve_freeze_after(d.suggest(trial, param_name(k, "unfreeze_at")), n_epochs)
        for k, d in sorted(spec.unfreeze_at.items())
    }
    decays = {
        k: d.suggest(trial, param_name(k, "weight_decay"))
        for k, d in sorted(spec.weight_decay.items())
    }
    own_lrs = {k: d.suggest(trial, param_name(k, "lr")) for k, d in sorted(spec.lrs.items())}
    hypers = {
        key: {
            hp: suggest_hyper(d, trial, param_name(key, f"optimizer/{hp}")) for hp, d in h.items()
        }
        for key, h in sorted(spec.optimizer.items())
    }
    leaves = {}
    for group in group_names:
        lr = _most_specific(own_lrs, group)
        if lr is None:
            lr = _scaled(base, multipliers, group)
            if group == DSR_SUBJECTS and dsr_subject_multiplier is not None:
                lr *= dsr_subject_multiplier
        leaves[group] = {"lr": lr, "freeze_after": _most_specific(freezes, group)}
        if spec.unfreeze_at:
            leaves[group]["unfreeze_at"] = _most_specific(unfreezes, group)
        if spec.weight_decay:
            leaves[group]["weight_decay"] = _most_specific(decays, group)
        merged = _merged(hypers, group)
        if merged:
            leaves[group]["optimizer"] = merged
    return {"learning_rate": nest_groups(leaves)}


def _scaled(base: float | None, multipliers: Mapping[str, float], group: str) -> float:
    if base is None:  # `learning_rate_problems` refuses a space where this can happen
        raise ValueError(f"group {group!r} has neither lrs nor a base lr")
    for key, factor in multipliers.items():
        base = base * factor if key_matches(key, group) else base
    return base


def _merged(values: Mapping[str, Mapping[str, Any]], group: str) -> dict[str, Any]:
    """Every matching key's mapping merged, the more specific over the less."""
    out: dict[str, Any] = {}
    for key in sorted((k for k in values if key_matches(k, group)), key=_specificity):
        out.update(values[key])
    return out


def _most_specific(values: Mapping[str, Any], group: str) -> Any:
    """The value of the most specific key (group, component, `*.level`) matching `group`."""
    keys = sorted((k for k in values if key_matches(k, group)), key=_specificity)
    return values[keys[-1]] if keys else None


def learning_rate_problems(
    spec: LearningRateDef, group_names: Sequence[str], path: str = "search.learning_rate"
) -> list[Problem]:
    """Keys that name no group of the trainable, each with the nearest valid key."""
    problems = []
    levels: dict[str, list[str]] = {}
    for group in group_names:
        component, level = _split(group)
        levels.setdefault(component, []).extend([level] if level is not None else [])
    uncovered = [g for g in group_names if not any(key_matches(k, g) for k in spec.lrs)]
    if spec.lr is None and uncovered:
        message = f"is missing, and lrs gives no lr to {', '.join(uncovered)}"
        problems.append(Problem(join_path(path, "lr"), message, "add lr, or lrs keys for them"))
    for key in spec.multipliers:
        scaled = [g for g in uncovered if key_matches(key, g)]
        if not scaled and any(key_matches(key, g) for g in group_names):
            message = "scales no group: each group it names has its own lr under lrs"
            problems.append(Problem(join_path(path, "multipliers", key), message, "remove it"))
    for section in KEYED_SECTIONS:
        for key in getattr(spec, section):
            if any(key_matches(key, g) for g in group_names):
                continue
            component, level = _split(key)
            if component in levels and level is not None:
                has = ", ".join(repr(v) for v in levels[component]) or "no levels"
                message = f"names no parameter group: {component} has only {has}"
                fix = f"use {component!r} or one of its levels"
            else:
                message = "names no parameter group of the trainable"
                fix = suggest(key, _valid_keys(group_names))
            problems.append(Problem(join_path(path, section, key), message, fix))
    return problems


def _valid_keys(group_names: Iterable[str]) -> set[str]:
    keys = set()
    for group in group_names:
        component, level = _split(group)
        keys |= {group, component} | ({f"*.{level}"} if level is not None else set())
    return keys
