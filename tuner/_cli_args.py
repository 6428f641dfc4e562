"""Argument types shared by the command-line verbs."""

from __future__ import annotations

import argparse
from typing import Any


def positive_int(text: str) -> int:
    """A whole number >= 1 from the command line, or argparse's clean usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"is {value}, but must be >= 1")
    return value


def sampler_seed(text: str) -> int:
    """A seed every Optuna sampler takes (0 to 2**32 - 1), or argparse's clean usage error."""
    from tuner._space_settings import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"is {value}, but must be between 0 and {MAX_SEED}")
    return value


def budget_argument(text: str) -> dict[str, Any]:
    """`--budget epochs=200,wall_time=2h` (or `2h`) as the space file's `budget:` mapping."""
    from tuner._budget_settings import parse_budget

    try:
        return parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
