"""The schedule registry as text for people: name, unit, hyperparameters and description of each.

`python -m tuner schedules [NAME ...]` prints it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from trainables.lr.errors import ConfigError, Problem, suggest
from trainables.lr.schedules.base import ScheduleEntry
from trainables.lr.schedules.registry import SCHEDULES, lookup

_WIDTH = 100


def entry_unit(entry: ScheduleEntry) -> str:
    """How the entry moves: per epoch, per step, or as chosen (`unit:`) or as its children."""
    if entry.nested is not None:
        return "epoch, or step when a child is step-wise"
    if "unit" in entry.params.model_fields:
        return "epoch, or step with unit: step"
    return entry.unit


def entry_hyperparameters(entry: ScheduleEntry) -> str:
    """`name=default` for each hyperparameter, `name (required)` for those without a default."""
    parts = []
    for name, field in entry.params.model_fields.items():
        if field.is_required():
            parts.append(f"{name} (required)")
        else:
            parts.append(f"{name}={field.get_default(call_default_factory=True)!r}")
    return ", ".join(parts) or "none"


def describe_entry(entry: ScheduleEntry) -> str:
    """A few lines about one schedule."""
    head = f"{entry.name}  [{entry_unit(entry)}]"
    if entry.aliases:
        head += f"  (also: {', '.join(entry.aliases)})"
    indent = " " * 4
    lines = [head]
    lines += textwrap.wrap(
        f"hyperparameters: {entry_hyperparameters(entry)}",
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent * 2,
        break_on_hyphens=False,
        break_long_words=False,
    )
    lines += textwrap.wrap(
        entry.description,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    )
    return "\n".join(lines)


def schedule_catalog(names: Iterable[str] = ()) -> str:
    """Every registered schedule (or the named ones; aliases accepted), one block each.

    >>> print(schedule_catalog(["Constant"]))
    Constant  [epoch]
        hyperparameters: none
        the base lr throughout
    """
    wanted = list(names)
    unknown = [n for n in wanted if lookup(n) is None]
    if unknown:
        raise ConfigError(
            [Problem(n, "is not a known schedule", suggest(n, SCHEDULES)) for n in unknown],
            "schedules",
        )
    entries = [lookup(n) for n in wanted] if wanted else list(SCHEDULES.values())
    return "\n\n".join(describe_entry(e) for e in entries if e is not None)
