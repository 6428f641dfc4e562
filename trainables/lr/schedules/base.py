"""The schedule contract: pure multipliers of each group's own base lr, driven by a clock.

A schedule never sees an absolute learning rate. It maps where training stands (a `Clock`) to a
*multiplier* that the LR plan applies to every group's own base lr, so the ratios between groups
survive every schedule. Stateful rules (plateau, NewBob) keep their state in `state_dict()` and
learn from `observe()`, called once at the end of each epoch with that epoch's metrics.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Unit = Literal["epoch", "step"]


@dataclass(frozen=True)
class Clock:
    """Where training stands: completed epochs and optimizer steps, and the full budget.

    `n_epochs` is always the whole training budget (never an ASHA rung), so a trial stopped early
    saw exactly the prefix of the schedule that a survivor saw. `steps_per_epoch` is known only
    when the loop steps per batch; step-wise schedules need it to convert fractions of the run.
    """

    epoch: int = 0
    step: int = 0
    n_epochs: int = 1
    steps_per_epoch: int | None = None

    @property
    def total_steps(self) -> int | None:
        return None if self.steps_per_epoch is None else self.n_epochs * self.steps_per_epoch

    def shifted(self, epochs: int, n_epochs: int) -> Clock:
        """This clock seen from a segment that starts `epochs` in and lasts `n_epochs`."""
        spe = self.steps_per_epoch or 0
        return replace(
            self,
            epoch=self.epoch - epochs,
            step=self.step - epochs * spe,
            n_epochs=n_epochs,
        )


class Schedule(ABC):
    """A multiplier of the base lr as a function of the clock (1.0 = the base lr itself)."""

    #: whether the multiplier changes per optimizer step ("step") or per epoch ("epoch")
    unit: Unit = "epoch"

    @abstractmethod
    def factor(self, clock: Clock) -> float:
        """The multiplier in force for the epoch/step the clock points at."""

    def observe(self, metrics: Mapping[str, float]) -> None:  # noqa: B027 - optional hook
        """Learn from one finished epoch's metrics (stateful rules only)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what `state_dict` returned."""


class ScheduleParams(BaseModel):
    """Base of every schedule's hyperparameter model: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class ScheduleContext:
    """What building a schedule may need beyond its own hyperparameters."""

    n_epochs: int
    steps_per_epoch: int | None = None
    #: builds a nested schedule config (for combinators); set by the registry
    build_child: Callable[[Mapping[str, Any], ScheduleContext], Schedule] | None = None


@dataclass(frozen=True)
class ScheduleEntry:
    """One registered schedule: its YAML name, hyperparameters model, builder and unit."""

    name: str
    params: type[ScheduleParams]
    build: Callable[[Any, ScheduleContext], Schedule]
    unit: Unit
    description: str
    aliases: tuple[str, ...] = field(default=())
    #: for combinators: (relative dotted path, child config) of every nested schedule config
    nested: Callable[[Any], Iterable[tuple[str, Mapping[str, Any]]]] | None = None
