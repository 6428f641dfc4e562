"""Schedules of schedules: Sequential (by fractions of the run), Product, Max and Min.

Children are full schedule configs, validated with their own paths (e.g.
`lr_scheduling.hyperparameters.schedules[1].hyperparameters.gamma`). Stateful children (the
plateau rules ReduceLROnPlateau, AnchoredPlateau, NewBob) compose like any other factor, so
"warmup, then plateau" is `Sequential` of a warmup and a ReduceLROnPlateau, or `Product` of
`Warmup` and ReduceLROnPlateau (torch refuses ReduceLROnPlateau inside SequentialLR).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pydantic import Field, model_validator

from trainables.lr.errors import ConfigError, Problem
from trainables.lr.schedules.base import (
    Clock,
    Schedule,
    ScheduleContext,
    ScheduleEntry,
    ScheduleParams,
    Unit,
)


class ChildrenParams(ScheduleParams):
    schedules: list[dict[str, Any]] = Field(min_length=1)


def _nested(params: ChildrenParams) -> Iterable[tuple[str, Mapping[str, Any]]]:
    return [(f"schedules[{i}]", child) for i, child in enumerate(params.schedules)]


class Combination(Schedule):
    """Children evaluated at the same clock and folded into one multiplier."""

    def __init__(self, children: Sequence[Schedule], fold: Callable[[list[float]], float]) -> None:
        self.children = list(children)
        self.fold = fold
        self.unit: Unit = "step" if any(c.unit == "step" for c in self.children) else "epoch"

    def factor(self, clock: Clock) -> float:
        return self.fold([child.factor(clock) for child in self.children])

    def observe(self, metrics: Mapping[str, float]) -> None:
        for child in self.children:
            child.observe(metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"children": [child.state_dict() for child in self.children]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for child, child_state in zip(self.children, state["children"], strict=True):
            child.load_state_dict(child_state)


def _build_children(params: ChildrenParams, context: ScheduleContext) -> list[Schedule]:
    assert context.build_child is not None  # the registry always sets it
    return [context.build_child(child, context) for child in params.schedules]


class SequentialParams(ChildrenParams):
    fractions: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _fractions(self) -> SequentialParams:
        if len(self.fractions) != len(self.schedules):
            raise ValueError(
                f"fractions ({len(self.fractions)}) and schedules ({len(self.schedules)}) must "
                "have the same length: one fraction of the run per schedule"
            )
        if any(not (f > 0 and math.isfinite(f)) for f in self.fractions):
            raise ValueError(f"every fraction must be > 0, got {self.fractions}")
        if not math.isclose(sum(self.fractions), 1.0, rel_tol=0, abs_tol=1e-9):
            raise ValueError(
                f"fractions must sum to 1 (the whole run), got {self.fractions} summing to "
                f"{sum(self.fractions):g}: rescale them"
            )
        return self


def segment_bounds(fractions: Sequence[float], n_epochs: int) -> list[int]:
    """Start epochs of each segment plus the end: round(cumulative fraction x n_epochs)."""
    bounds, total = [0], 0.0
    for fraction in fractions:
        total += fraction
        bounds.append(round(total * n_epochs))
    bounds[-1] = n_epochs
    return bounds


class Sequential(Schedule):
    """Each child over its share of the run, seeing a clock shifted to its segment's start.

    Segments are whole epochs. Metrics go only to the child whose segment the finished epoch
    belongs to, so a plateau rule placed after a warmup learns only once it is in force.
    """

    def __init__(self, children: Sequence[Schedule], bounds: Sequence[int]) -> None:
        self.children = list(children)
        self.bounds = list(bounds)
        self.unit: Unit = "step" if any(c.unit == "step" for c in self.children) else "epoch"
        self.epochs_observed = 0

    def _segment(self, epoch: int) -> int:
        for i in range(len(self.children) - 1, -1, -1):
            if epoch >= self.bounds[i]:
                return i
        return 0

    def factor(self, clock: Clock) -> float:
        i = self._segment(clock.epoch)
        start, end = self.bounds[i], self.bounds[i + 1]
        return self.children[i].factor(clock.shifted(start, end - start))

    def observe(self, metrics: Mapping[str, float]) -> None:
        self.children[self._segment(self.epochs_observed)].observe(metrics)
        self.epochs_observed += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "epochs_observed": self.epochs_observed,
            "children": [child.state_dict() for child in self.children],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epochs_observed = int(state["epochs_observed"])
        for child, child_state in zip(self.children, state["children"], strict=True):
            child.load_state_dict(child_state)


def build_sequential(params: SequentialParams, context: ScheduleContext) -> Sequential:
    """Children built for their own segment's length, so fractions inside them stay theirs."""
    assert context.build_child is not None  # the registry always sets it
    bounds = segment_bounds(params.fractions, context.n_epochs)
    empty = [i for i in range(len(params.fractions)) if bounds[i + 1] <= bounds[i]]
    if empty:
        raise ConfigError(
            [
                Problem(
                    f"hyperparameters.fractions[{i}]",
                    f"is {params.fractions[i]}, which gives 0 of the {context.n_epochs} epochs "
                    "(segments are whole epochs)",
                    "raise it, merge it with a neighbour, or train longer",
                )
                for i in empty
            ]
        )
    children = [
        context.build_child(child, replace(context, n_epochs=bounds[i + 1] - bounds[i]))
        for i, child in enumerate(params.schedules)
    ]
    return Sequential(children, bounds)


def _fold_entry(name: str, fold: Callable[[list[float]], float], description: str) -> ScheduleEntry:
    return ScheduleEntry(
        name=name,
        params=ChildrenParams,
        build=lambda p, ctx: Combination(_build_children(p, ctx), fold),
        unit="epoch",
        description=description + " Step-wise as soon as one child is.",
        nested=_nested,
    )


ENTRIES = (
    ScheduleEntry(
        name="Sequential",
        params=SequentialParams,
        build=build_sequential,
        unit="epoch",
        description="schedules[i] over fractions[i] of the run (fractions sum to 1, whole "
        "epochs), each seeing the clock from its segment's start and its segment's length. "
        "Step-wise as soon as one child is.",
        nested=_nested,
    ),
    _fold_entry("Product", math.prod, "The product of the children's multipliers."),
    _fold_entry("Max", max, "The largest of the children's multipliers at each point."),
    _fold_entry("Min", min, "The smallest of the children's multipliers at each point."),
)
