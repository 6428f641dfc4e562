"""A leaf of `learning_rate`: lr, freeze_after, unfreeze_at, weight_decay, schedule, optimizer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainables.lr import _checks
from trainables.lr.errors import Problem, join_path, suggest

LEAF_KEYS = ("lr", "freeze_after", "unfreeze_at", "weight_decay", "schedule", "optimizer")


@dataclass(frozen=True)
class Leaf:
    """The settings of one group as written, before schedules are validated."""

    lr: float
    freeze_after: int | None = None
    unfreeze_at: int | None = None
    weight_decay: float | None = None
    schedule: Any = None
    source: str = "learning_rate"
    #: this group's optimizer hyperparameters over the optimizer's (betas, eps, momentum, ...)
    optimizer: Any = None


def unknown_level(component: str, level: Any, levels: list[str | None], path: str) -> Problem:
    """E.g. `learning_rate.decoder.subjects: the decoder has only 'shared' parameters`."""
    only = " and ".join(f"'{lv}'" for lv in levels)
    if level in ("shared", "subjects"):
        fix = f"remove it, or set its lr under {only}"
        return Problem(path, f"the {component} has only {only} parameters", fix)
    known = [*(str(lv) for lv in levels), *LEAF_KEYS]
    return Problem(
        path,
        f"is neither a level of the {component} ({only}) nor a leaf key",
        suggest(level, known),
    )


def _unknown_in_leaf(
    body: Mapping[Any, Any],
    path: str,
    problems: list[Problem],
    component: str | None = None,
    levels: list[str | None] | None = None,
) -> None:
    """A problem for each non-leaf key; a level inside a component leaf gets its own message."""
    for key in body:
        if key in LEAF_KEYS:
            continue
        key_path = join_path(path, str(key))
        if levels and key in levels:
            problems.append(
                Problem(
                    key_path,
                    "mixes a level with leaf keys: a component is either a leaf {lr, ...} "
                    "or a mapping of its levels",
                    f"move the leaf keys under each level of the {component}",
                )
            )
        elif levels and None not in levels and key in ("shared", "subjects"):
            problems.append(unknown_level(str(component), key, levels, key_path))
        else:
            problems.append(Problem(key_path, "is not a known key", suggest(key, LEAF_KEYS)))


def parse_leaf(
    body: Any,
    path: str,
    problems: list[Problem],
    component: str | None = None,
    levels: list[str | None] | None = None,
) -> Leaf | None:
    """One leaf (a number is `{lr: number}`); problems appended."""
    if _checks.is_number(body):
        return Leaf(_checks.positive(body, path, problems), source=path)
    if not isinstance(body, Mapping):
        problems.append(
            Problem(
                path,
                f"is {body!r}, but must be a leaf {{lr: ..., freeze_after: ...}}",
                "e.g. {lr: 1e-3}",
            )
        )
        return None
    _unknown_in_leaf(body, path, problems, component, levels)
    if "lr" not in body:
        problems.append(
            Problem(join_path(path, "lr"), "is required but missing", "add e.g. lr: 1e-3")
        )
    lr = _checks.positive(body.get("lr", 1.0), join_path(path, "lr"), problems)
    freeze_after = _checks.epoch(
        body.get("freeze_after"), join_path(path, "freeze_after"), problems
    )
    unfreeze_at = _checks.epoch(body.get("unfreeze_at"), join_path(path, "unfreeze_at"), problems)
    if freeze_after is not None and unfreeze_at is not None and unfreeze_at >= freeze_after:
        problems.append(
            Problem(
                join_path(path, "unfreeze_at"),
                f"is {unfreeze_at}, but must be < freeze_after ({freeze_after}): the group would "
                "never train",
                "lower unfreeze_at or raise freeze_after",
            )
        )
    wd = body.get("weight_decay")
    weight_decay = (
        None if wd is None else _checks.non_negative(wd, join_path(path, "weight_decay"), problems)
    )
    return Leaf(
        lr,
        freeze_after,
        unfreeze_at,
        weight_decay,
        body.get("schedule"),
        path,
        body.get("optimizer"),
    )
