"""LRPlan: one object applying base_lr x schedule x gate to every named param group.

The training loop owns the epochs; the plan owns the clock. Call `step_batch()` after each
optimizer step (only step-wise schedules need it) and `step_epoch(train_loss=...)` at the end of
each epoch: stateful rules observe the metrics, the clock advances, groups freeze or unfreeze,
and every group's lr is set from its own base lr.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from trainables.lr import _state
from trainables.lr.errors import ConfigError, Problem, TunerError
from trainables.lr.freeze import set_frozen
from trainables.lr.groups import fixed_by_design, resolve_groups, without_fixed
from trainables.lr.layers import model_groups
from trainables.lr.optimizers import build_optimizer
from trainables.lr.preview import group_factors, preview_lrs
from trainables.lr.schedules.base import Clock, ScheduleContext
from trainables.lr.spec import LRSpec

if TYPE_CHECKING:
    import pandas as pd

_FORMAT = "trainables.lr.plan/1"


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The numeric metrics as floats (tensors detached); None and non-numbers are left out."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            out[key] = float(value.detach().item())
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[key] = float(value)
    return out


class LRPlan:
    """The optimizer, its named groups, their schedules and freeze rules, and the clock."""

    def __init__(
        self,
        spec: LRSpec,
        optimizer: torch.optim.Optimizer,
        params: Mapping[str, list[nn.Parameter]],
        n_epochs: int,
        steps_per_epoch: int | None = None,
    ) -> None:
        self.spec = spec
        self.optimizer = optimizer
        self.group_names = spec.group_names
        self.clock = Clock(0, 0, n_epochs, steps_per_epoch)
        self._params = dict(params)
        self._base = {g.name: g.lr for g in spec.groups}
        self._context = ScheduleContext(n_epochs, steps_per_epoch)
        self._schedules = spec.build_schedules(self._context)
        self._distinct = list({id(s): s for s in self._schedules.values()}.values())
        self._stepwise = any(s.unit == "step" for s in self._distinct)
        self._frozen: dict[str, bool] = {}
        self._epoch_start_step = 0
        self._groups = {g["name"]: g for g in optimizer.param_groups}
        #: names of the parameters fixed by design (requires_grad False when the plan was built):
        #: outside the optimizer, never unfrozen
        self.fixed: tuple[str, ...] = ()
        self._apply()

    def factors(self) -> dict[str, float]:
        """Each group's multiplier of its base lr now: schedule x gate (0 while frozen)."""
        return group_factors(self.spec, self._schedules, self.clock)

    def lrs(self) -> dict[str, float]:
        """The lr of every group now, as set in the optimizer."""
        return {name: float(self._groups[name]["lr"]) for name in self.group_names}

    def frozen(self) -> dict[str, bool]:
        """Which groups are frozen now."""
        return dict(self._frozen)

    def step_batch(self) -> None:
        """After each optimizer step: advance the step clock (re-applies step-wise schedules)."""
        c = self.clock
        self.clock = Clock(c.epoch, c.step + 1, c.n_epochs, c.steps_per_epoch)
        if self._stepwise:
            self._apply()

    def step_epoch(self, train_loss: float | None = None, **metrics: float) -> None:
        """At the end of each epoch: stateful rules observe, the clock advances, lrs are set."""
        if self._stepwise and self.clock.step == self._epoch_start_step:
            raise TunerError(
                "a step-wise schedule is configured, but step_batch() was not called this epoch: "
                "call plan.step_batch() after every optimizer.step()"
            )
        seen = _scalars({"train_loss": train_loss, **metrics})
        for schedule in self._distinct:
            schedule.observe(seen)
        c = self.clock
        self.clock = Clock(c.epoch + 1, c.step, c.n_epochs, c.steps_per_epoch)
        self._epoch_start_step = c.step
        self._apply()

    def _apply(self) -> None:
        for group in self.spec.groups:
            frozen = group.freeze.frozen(self.clock.epoch)
            if self._frozen.get(group.name) != frozen:
                set_frozen(self._params[group.name], frozen)
                self._frozen[group.name] = frozen
        for name, factor in self.factors().items():
            self._groups[name]["lr"] = self._base[name] * factor

    def preview(self, n_epochs: int | None = None, *, per_step: bool = False) -> pd.DataFrame:
        """Every group's lr at the start of every epoch (or every step with `per_step`), from
        fresh schedules, without training; `n_epochs` limits the rows to the first epochs.

        Stateful rules (plateau) see no metrics here, so they show no reduction.
        """
        c = self.clock
        return preview_lrs(self.spec, c.n_epochs, c.steps_per_epoch, n_epochs, per_step=per_step)

    def state_dict(self) -> dict[str, Any]:
        """Clock, schedule states, freeze states and optimizer state, all keyed by group name."""
        return {
            "format": _FORMAT,
            "group_names": list(self.group_names),
            "n_epochs": self.clock.n_epochs,
            "steps_per_epoch": self.clock.steps_per_epoch,
            "clock": {"epoch": self.clock.epoch, "step": self.clock.step},
            "schedules": {n: self._schedules[n].state_dict() for n in self.group_names},
            "frozen": dict(self._frozen),
            "optimizer": _state.optimizer_state_by_name(self.optimizer),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict()` output exactly; refuses other group names, sizes or budget."""
        _state.check_format(state, _FORMAT)
        _state.check_names(list(state["group_names"]), list(self.group_names))
        _state.check_budget(state, self.clock.n_epochs, self.clock.steps_per_epoch)
        _state.load_optimizer_state(self.optimizer, state["optimizer"])
        self._groups = {g["name"]: g for g in self.optimizer.param_groups}
        for name in self.group_names:
            self._schedules[name].load_state_dict(state["schedules"][name])
        c = state["clock"]
        self.clock = Clock(
            int(c["epoch"]), int(c["step"]), self.clock.n_epochs, self.clock.steps_per_epoch
        )
        self._epoch_start_step = self.clock.step
        self._frozen = {}
        self._apply()


def build_lr_plan(
    model: nn.Module,
    config: Mapping[str, Any],
    n_epochs: int,
    steps_per_epoch: int | None = None,
) -> LRPlan:
    """The optimizer, schedules and freeze plan for `model` from a config in the seed format.

    Parameters with requires_grad False now stay fixed: outside the optimizer, never unfrozen
    (`plan.fixed` names them).

    >>> plan = build_lr_plan(model, {"learning_rate": 1e-3}, n_epochs=100)
    """
    problems = []
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        problems.append(Problem("n_epochs", f"is {n_epochs!r}, but must be a whole number >= 1"))
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, int)
        or steps_per_epoch < 1
    ):
        problems.append(
            Problem(
                "steps_per_epoch",
                f"is {steps_per_epoch!r}, but must be a whole number >= 1 or None",
            )
        )
    if problems:
        raise ConfigError(problems)
    fixed = fixed_by_design(model)  # before anything here touches requires_grad
    names, layer_patterns = model_groups(model, config)
    spec = LRSpec.from_config(config, names)
    patterns = spec.patterns if layer_patterns is None else layer_patterns
    params = resolve_groups(model, patterns, spec.group_function)
    params = without_fixed(params, fixed, spec.patterns)
    param_groups = []
    for group in spec.groups:
        entry: dict[str, Any] = {"params": params[group.name], "name": group.name, "lr": group.lr}
        if group.weight_decay is not None:
            entry["weight_decay"] = group.weight_decay
        entry.update(group.hyperparameters)
        param_groups.append(entry)
    optimizer = build_optimizer(spec.optimizer, param_groups)
    plan = LRPlan(spec, optimizer, params, n_epochs, steps_per_epoch)
    plan.fixed = tuple(sorted(fixed.values()))
    return plan
