"""The SpeechBrain family (speechbrain.nnet.schedulers, seed 002) as multipliers of each group's lr.

SpeechBrain writes one absolute lr into every param group; here every absolute value of its API
(`lr_initial`, `initial_value`, `lr`, CyclicLR's `base_lr`/`max_lr`, Interval's `lr`, `lr_min`)
keeps its name but means *a multiple of each group's base lr*, so a base lr of 1.0 reproduces
SpeechBrain's numbers and several groups keep their ratios. Counters follow SpeechBrain's own:
step-wise curves are functions of n = `clock.step` (optimizer steps completed, the n SpeechBrain
counts when it is called after each step); epoch-wise ones of `clock.epoch`. A total length left
out (`total_steps`, `num_training_steps`, `epoch_count`) means the whole run.

Where SpeechBrain never evaluates its formula, ours follows the formula's limit: warmups (Noam,
LinearNoam, LinearWarmup, WarmCoolDecay, WarmAndExpDecay) start from 0 at step 0, and Step runs
epoch 0 at `initial_value`, the lr SpeechBrain's optimizer starts with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainables.lr.errors import TunerError
from trainables.lr.schedules.base import (
    Clock,
    Schedule,
    ScheduleContext,
    ScheduleEntry,
    ScheduleParams,
)
from trainables.lr.schedules.curves import Curve, check_steps_known, missing_steps

Steps = Field(ge=1)


class FunctionCurve(Curve):
    """A step- or epoch-wise curve `make(params)(position, run length)`.

    Holds the module-level `make` and the params rather than the closure, so it pickles.
    """

    needs_total = False

    def __init__(
        self,
        name: str,
        unit: Literal["epoch", "step"],
        make: Callable[[Any], Callable[[int, int | None], float]],
        params: ScheduleParams,
    ) -> None:
        super().__init__(unit)
        self.name, self.make, self.params = name, make, params
        self.fn = make(params)

    def at(self, position: int, total: int | None) -> float:
        return self.fn(position, total)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "fn"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.fn = self.make(self.params)


def _total(given: int | None, total: int | None, name: str) -> int:
    if given is not None:
        return given
    if total is None:  # guarded at build time; kept for direct use
        raise missing_steps(name)
    return total


class NoamParams(ScheduleParams):
    lr_initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    n_warmup_steps: int = Steps
    model_size: int | None = Field(default=None, ge=1)


def noam_scale(n: int, n_warmup_steps: int, model_size: int | None) -> float:
    """SpeechBrain's Noam scale; 0 at n = 0 (the limit of its warmup branch)."""
    normalize = n_warmup_steps**0.5 if model_size is None else model_size ** (-0.5)
    if n == 0:
        return 0.0
    return normalize * min(n ** (-0.5), n * n_warmup_steps ** (-1.5))


def noam(p: NoamParams) -> Callable[[int, int | None], float]:
    return lambda n, _: p.lr_initial * noam_scale(n, p.n_warmup_steps, p.model_size)


class NoamIntervalParams(NoamParams):
    anneal_steps: list[int] = Field(default_factory=list)
    anneal_rates: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pairs(self) -> NoamIntervalParams:
        if len(self.anneal_steps) != len(self.anneal_rates):
            raise ValueError(
                f"anneal_steps ({len(self.anneal_steps)}) and anneal_rates "
                f"({len(self.anneal_rates)}) must have the same length: one rate per step"
            )
        return self


def noam_interval(p: NoamIntervalParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        scale = noam_scale(n, p.n_warmup_steps, p.model_size)
        for step, rate in zip(p.anneal_steps, p.anneal_rates, strict=True):
            if n > step:
                scale = scale * rate
        return p.lr_initial * scale

    return fn


class LinearNoamParams(ScheduleParams):
    lr_initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    n_warmup_steps: int = Steps
    n_keep_steps: int = Field(default=0, ge=0)


def linear_noam(p: LinearNoamParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        w = p.n_warmup_steps
        if n < w:
            scale = (n + 0.0) / w
        elif n < p.n_keep_steps + w:
            scale = 1.0
        else:
            scale = w / (n - p.n_keep_steps)
        return p.lr_initial * scale

    return fn


class CyclicCosineParams(ScheduleParams):
    n_warmup_steps: int = Field(ge=0)
    lr_initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    total_steps: int | None = Field(default=None, ge=1)


def cyclic_cosine(p: CyclicCosineParams) -> Callable[[int, int | None], float]:
    def fn(n: int, total: int | None) -> float:
        length = _total(p.total_steps, total, "CyclicCosine")
        return p.lr_initial * (0.5 * (math.cos(math.pi * (n - p.n_warmup_steps) / length) + 1))

    return fn


class CyclicLRParams(ScheduleParams):
    base_lr: float = Field(default=0.1, ge=0, allow_inf_nan=False)
    max_lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    step_size: float = Field(default=2000.0, gt=0, allow_inf_nan=False)
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular"
    gamma: float = Field(default=1.0, gt=0, le=1)


def cyclic_lr(p: CyclicLRParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        it = float(n)
        cycle = math.floor(1 + it / (2 * p.step_size))
        x = abs(it / p.step_size - 2 * cycle + 1)
        if p.mode == "triangular":
            scale = 1.0
        elif p.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = p.gamma**it
        return p.base_lr + (p.max_lr - p.base_lr) * max(0, (1 - x)) * scale

    return fn


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: int = Field(ge=1)
    lr: float = Field(gt=0, allow_inf_nan=False)


class IntervalParams(ScheduleParams):
    intervals: list[Interval] = Field(min_length=1)

    @field_validator("intervals")
    @classmethod
    def _increasing(cls, value: list[Interval]) -> list[Interval]:
        steps = [i.steps for i in value]
        if steps != sorted(set(steps)):
            raise ValueError(f"interval steps must strictly increase, got {steps}: sort them")
        return value


def interval(p: IntervalParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        current = 1.0
        for item in p.intervals:
            if n >= item.steps:
                current = item.lr
        return current

    return fn


class InverseSquareRootParams(ScheduleParams):
    warmup_steps: int = Steps
    normalize: bool = False


def inverse_square_root(p: InverseSquareRootParams) -> Callable[[int, int | None], float]:
    peak = math.sqrt(p.warmup_steps) if p.normalize else 1.0
    return lambda n, _: peak * (1 / math.sqrt(max(p.warmup_steps, n)))


class WarmCoolDecayParams(ScheduleParams):
    lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    warmup: int = Steps
    cooldown: int = Steps
    total_steps: int | None = Field(default=None, ge=1)
    decay_factor: float = Field(default=0.75, gt=0, le=1)
    decay_every: int = Field(default=100000, ge=1)


def warm_cool_decay(p: WarmCoolDecayParams) -> Callable[[int, int | None], float]:
    power = math.log(p.decay_factor) / p.decay_every

    def fn(n: int, total: int | None) -> float:
        length = _total(p.total_steps, total, "WarmCoolDecay")
        if n < p.warmup:
            return p.lr * n / p.warmup
        if n > length - p.cooldown:
            base = p.lr * math.exp(power * (length - p.cooldown))
            return max(base - base / p.cooldown * (n - (length - p.cooldown)), 0.0)
        return p.lr * math.exp(power * (n - p.warmup))

    return fn


class WarmAndExpDecayParams(ScheduleParams):
    lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    n_warmup_steps: int = Field(ge=0)
    total_steps: int | None = Field(default=None, ge=1)
    decay_factor: float = Field(default=0.1, gt=0, le=1)

    @model_validator(mode="after")
    def _decays(self) -> WarmAndExpDecayParams:
        if self.total_steps is not None and self.total_steps <= self.n_warmup_steps:
            raise ValueError(
                f"total_steps ({self.total_steps}) must exceed n_warmup_steps "
                f"({self.n_warmup_steps}): the decay needs at least one step"
            )
        return self


def warm_and_exp_decay(p: WarmAndExpDecayParams) -> Callable[[int, int | None], float]:
    def fn(n: int, total: int | None) -> float:
        length = _total(p.total_steps, total, "WarmAndExpDecay")
        if n < p.n_warmup_steps:
            return p.lr * n / p.n_warmup_steps
        span = max(length - p.n_warmup_steps, 1)  # a run shorter than the warmup: no decay span
        decayed = p.lr * p.decay_factor ** ((n - p.n_warmup_steps) / span)
        return min(p.lr, decayed)

    return fn


class TriStageParams(ScheduleParams):
    lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    warmup_steps: int = Steps
    hold_steps: int = Field(ge=0)
    decay_steps: int = Steps
    total_steps: int | None = Field(default=None, ge=1)
    init_lr_scale: float = Field(default=0.01, ge=0, le=1)
    final_lr_scale: float = Field(default=0.05, gt=0, le=1)


def tri_stage(p: TriStageParams) -> Callable[[int, int | None], float]:
    init_lr = p.init_lr_scale * p.lr
    rate = (p.lr - init_lr) / p.warmup_steps
    decay = -math.log(p.final_lr_scale) / p.decay_steps

    def fn(n: int, _: int | None) -> float:
        if n < p.warmup_steps:
            return init_lr + rate * n
        if n < p.warmup_steps + p.hold_steps:
            return p.lr
        return p.lr * math.exp(-decay * (n - p.hold_steps - p.warmup_steps))

    return fn


class LinearWarmupParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    num_warmup_steps: int = Field(ge=0)
    num_training_steps: int | None = Field(default=None, ge=1)


def linear_warmup(p: LinearWarmupParams) -> Callable[[int, int | None], float]:
    def fn(n: int, total: int | None) -> float:
        length = _total(p.num_training_steps, total, "LinearWarmup")
        if n < p.num_warmup_steps:
            return float(n) / float(max(1, p.num_warmup_steps)) * p.initial_value
        return p.initial_value * max(
            0.0, float(length - n) / float(max(1, length - p.num_warmup_steps))
        )

    return fn


class LinearParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    final_value: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    epoch_count: int | None = Field(default=None, ge=1)


def linear(p: LinearParams) -> Callable[[int, int | None], float]:
    def fn(epoch: int, n_epochs: int | None) -> float:
        count = _total(p.epoch_count, n_epochs, "Linear")
        index = min(epoch, count - 1)
        if count == 1:
            return p.initial_value
        return p.initial_value + (p.final_value - p.initial_value) * index / (count - 1)

    return fn


class StepParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    decay_factor: float | None = Field(default=None, gt=0, le=1)
    decay_drop: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    half_life: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_form(self) -> StepParams:
        if self.half_life is not None and (self.decay_factor or self.decay_drop):
            raise ValueError("half_life cannot be used together with decay_factor and decay_drop")
        return self


def step(p: StepParams) -> Callable[[int, int | None], float]:
    if p.half_life is not None:
        factor, drop = math.exp(-math.log(2) / p.half_life), 1.0
    else:
        factor, drop = p.decay_factor or 0.5, p.decay_drop or 2

    def fn(epoch: int, _: int | None) -> float:
        if epoch == 0:
            return p.initial_value
        return p.initial_value * math.pow(factor, math.floor((1 + epoch) / drop))

    return fn


def _watched(metrics: Mapping[str, float], name: str, schedule: str) -> float:
    value = metrics.get(name)
    if value is None:
        known = sorted(k for k, v in metrics.items() if v is not None)
        raise TunerError(
            f"{schedule} watches '{name}', but the epoch reported only {known}: report it, "
            "or set the schedule's `metric` to one of those"
        )
    return float(value)


class NewBobParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    annealing_factor: float = Field(default=0.5, gt=0, le=1)
    improvement_threshold: float = Field(default=0.0025, allow_inf_nan=False)
    patient: int = Field(default=0, ge=0)
    metric: str = "train_loss"


class NewBob(Schedule):
    """x annealing_factor when the relative improvement of the metric over the previous epoch is
    below improvement_threshold more than `patient` times in a row (SpeechBrain's NewBob)."""

    def __init__(self, p: NewBobParams) -> None:
        self.p = p
        self.value = p.initial_value
        self.previous: float | None = None
        self.current_patient = p.patient

    def factor(self, clock: Clock) -> float:
        return self.value

    def observe(self, metrics: Mapping[str, float]) -> None:
        metric = _watched(metrics, self.p.metric, "NewBob")
        if self.previous is not None:
            prev = self.previous
            improvement = 0 if prev == 0 else (prev - metric) / prev
            if improvement < self.p.improvement_threshold:
                if self.current_patient == 0:
                    self.value *= self.p.annealing_factor
                    self.current_patient = self.p.patient
                else:
                    self.current_patient -= 1
        self.previous = metric

    def state_dict(self) -> dict[str, Any]:
        return {"value": self.value, "previous": self.previous, "patient": self.current_patient}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.value = float(state["value"])
        self.previous = None if state["previous"] is None else float(state["previous"])
        self.current_patient = int(state["patient"])


class AnchoredPlateauParams(ScheduleParams):
    lr_min: float = Field(default=1e-8, ge=0, le=1)
    factor: float = Field(default=0.5, gt=0, le=1)
    patience: int = Field(default=2, ge=0)
    dont_halve_until_epoch: int = Field(default=65, ge=0)
    metric: str = "train_loss"


class AnchoredPlateau(Schedule):
    """SpeechBrain's ReduceLROnPlateau: compares each epoch's metric with the anchor (the last
    improving value), x factor after more than `patience` epochs above it, floor lr_min."""

    def __init__(self, p: AnchoredPlateauParams) -> None:
        self.p = p
        self.value = 1.0
        self.anchor = 99999.0
        self.patience_counter = 0
        self.epochs = 0

    def factor(self, clock: Clock) -> float:
        return self.value

    def observe(self, metrics: Mapping[str, float]) -> None:
        loss = _watched(metrics, self.p.metric, "AnchoredPlateau")
        self.epochs += 1
        nxt = self.value
        if self.epochs <= self.p.dont_halve_until_epoch or loss <= self.anchor:
            self.anchor = loss
            if self.epochs > self.p.dont_halve_until_epoch:
                self.patience_counter = 0
        elif self.patience_counter < self.p.patience:
            self.patience_counter += 1
        else:
            nxt = self.value * self.p.factor
            self.patience_counter = 0
        self.value = max(nxt, self.p.lr_min)

    def state_dict(self) -> dict[str, Any]:
        keys = ("value", "anchor", "patience_counter", "epochs")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.value, self.anchor = float(state["value"]), float(state["anchor"])
        self.patience_counter, self.epochs = int(state["patience_counter"]), int(state["epochs"])


_AS_RATIOS = ", values as multiples of each group's lr"


def _epoch_entry(
    name: str,
    params: type[ScheduleParams],
    build: Callable[[Any], Schedule],
    sb_name: str,
    description: str,
) -> ScheduleEntry:
    text = f"{description} (SpeechBrain's {sb_name}{_AS_RATIOS}; per epoch)"
    # the seed's torch-style ReduceLROnPlateau owns that name; SpeechBrain's gets a prefixed alias
    alias = f"SpeechBrain{sb_name}" if sb_name == "ReduceLROnPlateau" else sb_name
    return ScheduleEntry(name, params, lambda p, ctx: build(p), "epoch", text, aliases=(alias,))


def _step_entry(
    name: str,
    params: type[ScheduleParams],
    make: Callable[[Any], Callable[[int, int | None], float]],
    description: str,
    total_field: str | None = None,
) -> ScheduleEntry:
    def build(p: Any, ctx: ScheduleContext) -> Schedule:
        if total_field is not None and getattr(p, total_field) is None:
            check_steps_known("step", ctx, name)
        return FunctionCurve(name, "step", make, p)

    sb_name = _SB_NAMES[name]
    text = (
        f"{description} (SpeechBrain's {sb_name}, values as multiples of each group's lr; per step)"
    )
    return ScheduleEntry(name, params, build, "step", text, aliases=(sb_name,))


_SB_NAMES = {
    "Noam": "NoamScheduler",
    "NoamInterval": "NoamIntervalScheduler",
    "LinearNoam": "LinearNoamScheduler",
    "CyclicCosine": "CyclicCosineScheduler",
    "CyclicLR": "CyclicLRScheduler",
    "Interval": "IntervalScheduler",
    "InverseSquareRoot": "InverseSquareRootScheduler",
    "WarmCoolDecay": "WarmCoolDecayLRSchedule",
    "WarmAndExpDecay": "WarmAndExpDecayLRSchedule",
    "TriStage": "TriStageLRSchedule",
    "LinearWarmup": "LinearWarmupScheduler",
}

ENTRIES = (
    _step_entry(
        "Noam",
        NoamParams,
        noam,
        "Transformer warmup then 1/sqrt(n): lr_initial x normalize x min(n^-0.5, n w^-1.5), "
        "normalize = sqrt(w) or model_size^-0.5; lr_initial is a multiple of each group's lr",
    ),
    _step_entry(
        "NoamInterval",
        NoamIntervalParams,
        noam_interval,
        "Noam, further x anneal_rates[i] once n > anneal_steps[i]",
    ),
    _step_entry(
        "LinearNoam",
        LinearNoamParams,
        linear_noam,
        "Linear warmup over n_warmup_steps, held n_keep_steps, then w / (n - n_keep_steps)",
    ),
    _step_entry(
        "CyclicCosine",
        CyclicCosineParams,
        cyclic_cosine,
        "lr_initial x (cos(pi (n - n_warmup_steps) / total_steps) + 1) / 2, periodic; "
        "total_steps defaults to the run's steps",
        "total_steps",
    ),
    _step_entry(
        "CyclicLR",
        CyclicLRParams,
        cyclic_lr,
        "Triangular cycles between base_lr and max_lr (multiples of each group's lr) with "
        "half-period step_size; modes triangular, triangular2 (halving), exp_range (gamma^n)",
    ),
    _step_entry(
        "Interval",
        IntervalParams,
        interval,
        "1 until the first interval's steps, then each interval's lr (a multiple of each "
        "group's lr) from its steps on",
    ),
    _step_entry(
        "InverseSquareRoot",
        InverseSquareRootParams,
        inverse_square_root,
        "T5: 1/sqrt(max(warmup_steps, n)); normalize: true scales it to 1 during the warmup",
    ),
    _step_entry(
        "WarmCoolDecay",
        WarmCoolDecayParams,
        warm_cool_decay,
        "Linear warmup to lr, slow exponential decay (decay_factor per decay_every steps), "
        "linear cooldown to 0 over the last cooldown steps (held at 0 after total_steps); "
        "total_steps defaults to the run's",
        "total_steps",
    ),
    _step_entry(
        "WarmAndExpDecay",
        WarmAndExpDecayParams,
        warm_and_exp_decay,
        "Linear warmup to lr, then exponential decay to lr x decay_factor at total_steps "
        "(default: the run's steps)",
        "total_steps",
    ),
    _step_entry(
        "TriStage",
        TriStageParams,
        tri_stage,
        "Warmup from init_lr_scale x lr to lr, hold, then exponential decay reaching "
        "final_lr_scale x lr after decay_steps",
    ),
    _step_entry(
        "LinearWarmup",
        LinearWarmupParams,
        linear_warmup,
        "From 0 up to initial_value over num_warmup_steps, then linearly to 0 at "
        "num_training_steps (default: the run's steps)",
        "num_training_steps",
    ),
    _epoch_entry(
        "Linear",
        LinearParams,
        lambda p: FunctionCurve("Linear", "epoch", linear, p),
        "LinearScheduler",
        "Linear from initial_value at epoch 0 to final_value at epoch epoch_count - 1 "
        "(default n_epochs), then held; values are multiples of each group's lr",
    ),
    _epoch_entry(
        "Step",
        StepParams,
        lambda p: FunctionCurve("Step", "epoch", step, p),
        "StepScheduler",
        "initial_value at epoch 0, then initial_value x decay_factor ** floor((1 + epoch) / "
        "decay_drop) (defaults 0.5, 2); half_life h sets decay_factor = 2^(-1/h), decay_drop 1",
    ),
    _epoch_entry(
        "NewBob",
        NewBobParams,
        NewBob,
        "NewBobScheduler",
        "initial_value, x annealing_factor when the metric (train_loss) improves by less than "
        "improvement_threshold (relative) more than `patient` epochs in a row",
    ),
    _epoch_entry(
        "AnchoredPlateau",
        AnchoredPlateauParams,
        AnchoredPlateau,
        "ReduceLROnPlateau",
        "x factor when the metric (train_loss) stays above its last improving value for more "
        "than `patience` epochs, never before dont_halve_until_epoch; floor lr_min (a ratio)",
    ),
)
