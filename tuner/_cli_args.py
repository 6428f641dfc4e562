"""Argument types shared by the command-line verbs."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A whole number >= 1 from the command line, or argparse's clean usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"is {value}, but must be >= 1")
    return value
