"""Small checks of user values that append a `Problem` (path, value, rule, fix) when they fail."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from trainables.lr.errors import Problem, join_path, suggest


def is_number(value: Any) -> bool:
    """A real number (bool excluded), or a string YAML left unparsed such as '1e-3'."""
    return to_float(value) is not None


def to_float(value: Any) -> float | None:
    """`value` as a float, or None. PyYAML reads `1e-3` (no dot) as a string, so accept that."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def positive(value: Any, path: str, problems: list[Problem], example: str = "1e-3") -> float:
    """A finite number > 0; otherwise a problem (and 1.0 so parsing can go on)."""
    number = to_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        problems.append(
            Problem(path, f"is {value!r}, but must be a finite number > 0", f"e.g. {example}")
        )
        return 1.0
    return number


def non_negative(value: Any, path: str, problems: list[Problem], example: str = "0.01") -> float:
    """A finite number >= 0; otherwise a problem (and 0.0)."""
    number = to_float(value)
    if number is None or not math.isfinite(number) or number < 0:
        problems.append(
            Problem(path, f"is {value!r}, but must be a finite number >= 0", f"e.g. {example}")
        )
        return 0.0
    return number


def epoch(value: Any, path: str, problems: list[Problem]) -> int | None:
    """None or a whole number of epochs >= 0 (no floats, no bools)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(
            Problem(
                path,
                f"is {value!r}, but must be a whole number of epochs >= 0 or null",
                "write e.g. 50, or null to never apply it",
            )
        )
        return None
    return value


def unknown_keys(
    mapping: Mapping[Any, Any], known: Iterable[str], path: str, problems: list[Problem]
) -> None:
    """A problem for every key of `mapping` not in `known`, with the nearest known name."""
    known = tuple(known)
    for key in mapping:
        if key not in known:
            problems.append(
                Problem(join_path(path, str(key)), "is not a known key", suggest(key, known))
            )
