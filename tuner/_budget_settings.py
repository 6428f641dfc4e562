"""`budget:` in a space file and `--budget` on the command line: the settings and their parsing
(no Ray here: the file is checked before Ray starts; `tuner.budget` runs the budget)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(text: str) -> float:
    """`"90s"`, `"30m"`, `"2h"`, `"1.5d"` -> seconds; ValueError naming the form otherwise."""
    found = _DURATION.match(str(text))
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 2h or 1.5d")
    return float(found.group(1)) * _UNITS[found.group(2)]


def format_duration(seconds: float) -> str:
    """`65` -> `1m05s`, `7200` -> `2h00m`, `42` -> `42s`."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class BudgetSettings(BaseModel):
    """A sweep's budget: total epochs and/or wall time (at least one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    epochs: int | None = Field(default=None, ge=1)
    wall_time: str | None = None

    @field_validator("wall_time")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def seconds(self) -> float | None:
        return None if self.wall_time is None else parse_duration(self.wall_time)


def parse_budget(text: str) -> dict[str, Any]:
    """`--budget`: `epochs=200`, `wall_time=2h`, both comma-separated, or a bare duration `2h`."""
    budget: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.rpartition("=")
        key = key.strip() or ("epochs" if value.strip().isdigit() else "wall_time")
        if key == "epochs" and value.strip().isdigit():
            budget["epochs"] = int(value)
        elif key == "wall_time":
            parse_duration(value)
            budget["wall_time"] = value.strip()
        else:
            raise ValueError(f"{part!r}: give epochs=N and/or wall_time=DURATION (e.g. 2h)")
    if not budget:
        raise ValueError("give epochs=N and/or wall_time=DURATION (e.g. 2h)")
    return budget
