"""Gradual unfreezing: `unfreeze: {last_n: k, every: e}` over the model's layers.

The top `k` layers (see `trainables.lr.layers`) train from the start; every `e` epochs one more
layer below them unfreezes: the layer at depth `d` (0 = top) gets `unfreeze_at =
max(0, d - k + 1) * e`. The timetable becomes each group's `unfreeze_at`, so the freeze gate of
the plan applies it: groups exist from step 0, frozen ones really frozen, and resuming restores
the clock that decides which layers train. A leaf's own `unfreeze_at` still holds: a group stays
frozen until both say it may train.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainables.lr import _checks
from trainables.lr.errors import Problem, join_path
from trainables.lr.layers import depths

UNFREEZE_KEYS = ("last_n", "every")


@dataclass(frozen=True)
class UnfreezeSpec:
    """The top `last_n` layers train from the start; one more every `every` epochs."""

    last_n: int = 1
    every: int = 1

    def epochs(self, names: Sequence[str]) -> dict[str, int]:
        """The epoch each group (bottom to top) starts training, e.g. k=1, e=2: c 0, b 2, a 4."""
        return {
            name: max(0, depth - self.last_n + 1) * self.every
            for name, depth in depths(names).items()
        }


def resolve_unfreeze(value: Any, problems: list[Problem]) -> UnfreezeSpec | None:
    """`unfreeze:` as an `UnfreezeSpec`, or None when absent; problems appended."""
    if value is None:
        return None
    fix = "e.g. unfreeze: {last_n: 1, every: 2}"
    if not isinstance(value, Mapping):
        problems.append(Problem("unfreeze", f"is {value!r}, but must be a mapping", fix))
        return None
    _checks.unknown_keys(value, UNFREEZE_KEYS, "unfreeze", problems)
    out = {}
    for key in UNFREEZE_KEYS:
        raw = value.get(key, 1)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            rule = "a whole number of layers >= 1" if key == "last_n" else "a whole number >= 1"
            problems.append(
                Problem(join_path("unfreeze", key), f"is {raw!r}, but must be {rule}", fix)
            )
            raw = 1
        out[key] = raw
    return UnfreezeSpec(**out)


def combine(own: int | None, scheduled: int) -> int | None:
    """The later of a leaf's own `unfreeze_at` and the timetable's (None when both are 0/None)."""
    return max(own or 0, scheduled) or own
