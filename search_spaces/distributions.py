"""One searched value: `log_uniform`, `uniform`, `int`, `choice` or a constant, sampled by name.

In a space file a value is declared as `{log_uniform: [lo, hi]}`, `{uniform: [lo, hi]}` (optional
`step`), `{int: [lo, hi]}` (optional `step`, `log`), `{choice: [...]}`, or a constant: a bare
number, string, boolean, null or list, or `{const: ...}` (needed for a constant mapping).
`DistDef.suggest(trial, "learning_rate/lr")` samples it under that Optuna parameter name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import optuna
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

KINDS = ("log_uniform", "uniform", "int", "choice", "const")
_PRIMITIVE = (type(None), bool, int, float, str)


def is_number(value: Any) -> bool:
    """A real number that is not a boolean."""
    return isinstance(value, int | float) and not isinstance(value, bool)


class DistDef(BaseModel):
    """A distribution over one value (or a constant): exactly one of `KINDS` is given."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    log_uniform: tuple[float, float] | None = None
    uniform: tuple[float, float] | None = None
    int_: tuple[int, int] | None = Field(default=None, alias="int")
    choice: tuple[Any, ...] | None = Field(default=None, min_length=1)
    const: Any = None
    step: float | None = Field(default=None, gt=0)
    log: bool = False

    @property
    def kind(self) -> str:
        """Which of `KINDS` this declares."""
        given = [k for k in KINDS if _given(self, k)]
        return given[0]

    @model_validator(mode="after")
    def _check(self) -> DistDef:
        given = [k for k in KINDS if _given(self, k)]
        if len(given) != 1:
            raise ValueError(
                f"must declare exactly one of {', '.join(KINDS)} (found {given or 'none'})"
            )
        kind = given[0]
        bounds = {"log_uniform": self.log_uniform, "uniform": self.uniform, "int": self.int_}
        low_high = bounds.get(kind)
        if low_high is not None and not low_high[0] < low_high[1]:
            raise ValueError(f"{kind} bounds must satisfy low < high (for one value, write it)")
        if kind == "log_uniform" and low_high[0] <= 0:
            raise ValueError("log_uniform bounds must be > 0")
        if self.step is not None and kind not in ("uniform", "int"):
            raise ValueError("step is allowed only with uniform or int")
        if kind == "int" and self.step is not None and self.step != int(self.step):
            raise ValueError("step of an int range must be a whole number")
        if self.log and kind != "int":
            raise ValueError("log is allowed only with int (use log_uniform for floats)")
        if self.log and (self.step not in (None, 1) or low_high[0] < 1):
            raise ValueError("an int range with log must start at >= 1 and have no step")
        if kind == "choice" and len(set(_labels(self.choice))) != len(self.choice):
            raise ValueError("choice values must be distinct")
        return self

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        """Sample this value as Optuna parameter `name` (a constant is returned, not recorded)."""
        return _SUGGEST[self.kind](self, trial, name)

    def values(self) -> tuple[Any, ...]:
        """Every value a constant or a choice can give, or the (low, high) of a range."""
        if self.kind == "const":
            return (self.const,)
        if self.kind == "choice":
            return self.choice
        return {"log_uniform": self.log_uniform, "uniform": self.uniform, "int": self.int_}[
            self.kind
        ]


def _given(dist: DistDef, kind: str) -> bool:
    if kind == "const":
        return "const" in dist.model_fields_set
    return getattr(dist, "int_" if kind == "int" else kind) is not None


def _labels(choices: tuple[Any, ...]) -> list[Any]:
    """Optuna stores None/bool/int/float/str; other choices (lists, mappings) go by their JSON."""
    return [c if isinstance(c, _PRIMITIVE) else json.dumps(c, sort_keys=True) for c in choices]


def _suggest_choice(dist: DistDef, trial: optuna.Trial, name: str) -> Any:
    labels = _labels(dist.choice)
    return dist.choice[labels.index(trial.suggest_categorical(name, labels))]


def _suggest_int(dist: DistDef, trial: optuna.Trial, name: str) -> int:
    low, high = dist.int_
    return trial.suggest_int(name, low, high, step=int(dist.step or 1), log=dist.log)


_SUGGEST: dict[str, Callable[[DistDef, optuna.Trial, str], Any]] = {
    "log_uniform": lambda d, t, n: t.suggest_float(n, *d.log_uniform, log=True),
    "uniform": lambda d, t, n: t.suggest_float(n, *d.uniform, step=d.step),
    "int": _suggest_int,
    "choice": _suggest_choice,
    "const": lambda d, t, n: d.const,
}


def _as_def(raw: Any) -> Any:
    """A bare value is a constant; a mapping is a distribution declaration."""
    return raw if isinstance(raw, Mapping | DistDef) else {"const": raw}


def _positive(dist: DistDef) -> DistDef:
    if dist.kind in ("const", "choice"):
        bad = [v for v in dist.values() if not (is_number(v) and v > 0 and math.isfinite(v))]
        if bad:
            raise ValueError(f"every value must be a number > 0 (not {bad[0]!r})")
    elif dist.values()[0] <= 0:
        raise ValueError("the range must lie above 0")
    return dist


def _freeze_value_ok(value: Any) -> bool:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value is None or value >= 0
    return isinstance(value, float) and 0 < value < 1


def _freeze(dist: DistDef) -> DistDef:
    rule = "freeze_after values must be null, an epoch (integer >= 0) or a fraction in (0, 1)"
    if dist.kind in ("const", "choice"):
        bad = [v for v in dist.values() if not _freeze_value_ok(v)]
        if bad:
            raise ValueError(f"{rule} (not {bad[0]!r})")
    elif dist.kind == "int":
        if dist.values()[0] < 0:
            raise ValueError(f"{rule}: an epoch range must start at >= 0")
    elif not 0 < dist.values()[0] < dist.values()[1] < 1:
        raise ValueError(f"{rule}: a float range is a fraction of n_epochs inside (0, 1)")
    return dist


def _non_negative(dist: DistDef) -> DistDef:
    if dist.kind in ("const", "choice"):
        bad = [v for v in dist.values() if not (is_number(v) and v >= 0 and math.isfinite(v))]
        if bad:
            raise ValueError(f"every value must be a number >= 0 (not {bad[0]!r})")
    elif dist.values()[0] < 0:
        raise ValueError("the range must lie at or above 0")
    return dist


#: any trainable setting: a distribution or a constant
ValueDef = Annotated[DistDef, BeforeValidator(_as_def)]
#: a learning rate or a multiplier: every value > 0
PositiveDef = Annotated[DistDef, BeforeValidator(_as_def), AfterValidator(_positive)]
#: a weight decay: every value >= 0
NonNegativeDef = Annotated[DistDef, BeforeValidator(_as_def), AfterValidator(_non_negative)]
#: `freeze_after` or `unfreeze_at`: null, an epoch, or a fraction of n_epochs
FreezeDef = Annotated[DistDef, BeforeValidator(_as_def), AfterValidator(_freeze)]


def _is_distribution(value: Any) -> bool:
    """A `DistDef`, or a mapping written as one (`{uniform: [...]}`, with `step`/`log`)."""
    if isinstance(value, DistDef):
        return True
    keys = set(value) if isinstance(value, Mapping) else set()
    return bool(keys & set(KINDS)) and keys <= {*KINDS, "step", "log"}


def _items_or_value(raw: Any) -> Any:
    """A list holding a distribution is a list of values, each its own; else one value (a list
    of plain mappings, e.g. a composite's schedules, is a constant)."""
    if isinstance(raw, list | tuple) and any(_is_distribution(v) for v in raw):
        return [_as_def(v) for v in raw]
    return _as_def(raw)


#: an optimizer hyperparameter: one value, or a list whose items are searched one by one
#: (`betas: [{uniform: [0.8, 0.95]}, 0.999]`)
HyperDef = Annotated[DistDef | list[DistDef], BeforeValidator(_items_or_value)]


def suggest_hyper(dist: DistDef | list[DistDef], trial: optuna.Trial, name: str) -> Any:
    """Sample a `HyperDef`: a list item by item as `name/0`, `name/1`, ..."""
    if isinstance(dist, list):
        return [item.suggest(trial, f"{name}/{i}") for i, item in enumerate(dist)]
    return dist.suggest(trial, name)


def resolve_freeze_after(value: Any, n_epochs: int) -> int | None:
    """A sampled `freeze_after` as the seed's epoch: fractions of `n_epochs` round half up."""
    if value is None or isinstance(value, int):
        return value
    return int(math.floor(value * n_epochs + 0.5))
