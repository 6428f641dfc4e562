"""Optimizer state keyed by group name, so a checkpoint can never be mis-mapped onto groups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from trainables.lr.errors import ConfigError, Problem


def optimizer_state_by_name(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """{group name: {"hyper": group settings, "state": [per-parameter state, in group order]}}."""
    saved = optimizer.state_dict()
    out = {}
    for group in saved["param_groups"]:
        hyper = {k: v for k, v in group.items() if k != "params"}
        out[group["name"]] = {
            "hyper": hyper,
            "state": [saved["state"].get(i, {}) for i in group["params"]],
        }
    return out


def check_format(state: Any, expected: str) -> None:
    """Refuse anything but an `LRPlan.state_dict()` of this format."""
    found = state.get("format") if isinstance(state, Mapping) else None
    if found != expected:
        raise ConfigError(
            [
                Problem(
                    "checkpoint",
                    f"is not an LRPlan state (format {found!r}, expected {expected!r})",
                    "pass what LRPlan.state_dict() returned",
                )
            ]
        )


def check_names(saved: Sequence[str], current: Sequence[str]) -> None:
    """Refuse a checkpoint whose group names differ from this plan's, naming both sets."""
    if set(saved) != set(current):
        raise ConfigError(
            [
                Problem(
                    "checkpoint",
                    f"holds the groups {sorted(saved)}, but this plan has {sorted(current)}",
                    "resume with the model and config the checkpoint was made with",
                )
            ]
        )


def check_budget(state: Mapping[str, Any], n_epochs: int, steps_per_epoch: int | None) -> None:
    """Refuse a checkpoint made for another budget: schedules depend on it."""
    problems = [
        Problem(
            f"checkpoint.{key}",
            f"is {state[key]!r}, but this plan has {ours!r} and schedules depend on it",
            f"resume with the {key} the checkpoint was made with",
        )
        for key, ours in (("n_epochs", n_epochs), ("steps_per_epoch", steps_per_epoch))
        if state[key] != ours
    ]
    if problems:
        raise ConfigError(problems)


def load_optimizer_state(optimizer: torch.optim.Optimizer, by_name: Mapping[str, Any]) -> None:
    """Load `optimizer_state_by_name` output, matching groups by name."""
    current = optimizer.state_dict()
    check_names(list(by_name), [g["name"] for g in current["param_groups"]])
    problems = []
    state: dict[int, Any] = {}
    groups = []
    for group in current["param_groups"]:
        saved = by_name[group["name"]]
        if len(saved["state"]) != len(group["params"]):
            problems.append(
                Problem(
                    f"checkpoint.optimizer.{group['name']}",
                    f"holds {len(saved['state'])} parameters, but the group has "
                    f"{len(group['params'])}",
                    "resume with the model the checkpoint was made with",
                )
            )
            continue
        for index, param_state in zip(group["params"], saved["state"], strict=True):
            if param_state:
                state[index] = param_state
        groups.append({**saved["hyper"], "params": group["params"]})
    if problems:
        raise ConfigError(problems)
    optimizer.load_state_dict({"state": state, "param_groups": groups})
