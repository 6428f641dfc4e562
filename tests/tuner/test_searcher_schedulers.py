"""The scheduler a space file builds: ASHA, and Ray's asynchronous Hyperband (`asha.brackets`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tuner.spaces import TOY
from tuner.asha import ResumableASHA
from tuner.space import parse_space
from tuner.sweep import build_scheduler

BASE = {
    "name": "schedulers",
    "trainable": TOY,
    "n_epochs": 27,
    "metric": "score",
    "mode": "min",
    "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
}


def _scheduler(asha: dict[str, Any]) -> ResumableASHA:
    space = parse_space({**BASE, "asha": asha})
    scheduler = build_scheduler(space)
    assert isinstance(scheduler, ResumableASHA)
    return scheduler


def _milestones(scheduler: ResumableASHA) -> list[list[int]]:
    return [sorted(m for m, _ in bracket._rungs) for bracket in scheduler._brackets]  # noqa: SLF001


def test_one_bracket_by_default_with_rungs_at_grace_times_powers_of_the_factor() -> None:
    assert _milestones(_scheduler({})) == [[1, 2, 4, 8, 16]]
    assert _milestones(_scheduler({"grace_period": 1, "reduction_factor": 3})) == [[1, 3, 9, 27]]


def test_brackets_start_their_first_rung_one_factor_later_each() -> None:
    scheduler = _scheduler({"grace_period": 1, "reduction_factor": 3, "brackets": 3})
    assert _milestones(scheduler) == [[1, 3, 9, 27], [3, 9, 27], [9, 27]]


@pytest.mark.parametrize("brackets", [0, 9])
def test_brackets_out_of_range_are_refused_before_ray(brackets: int) -> None:
    from trainables.lr.errors import ConfigError

    with pytest.raises(ConfigError, match=r"asha\.brackets"):
        parse_space({**BASE, "asha": {"brackets": brackets}})
