"""Stateful rules of the SpeechBrain family: NewBob and SpeechBrain's ReduceLROnPlateau
(`AnchoredPlateau`); they learn from each epoch's metrics and keep their state for resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from trainables.lr.schedules.base import Clock, Schedule, ScheduleParams
from trainables.lr.schedules.speechbrain._entries import epoch_entry, watched


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
        metric = watched(metrics, self.p.metric, "NewBob")
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
        loss = watched(metrics, self.p.metric, "AnchoredPlateau")
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


ENTRIES = (
    epoch_entry(
        "NewBob",
        NewBobParams,
        NewBob,
        "NewBobScheduler",
        "initial_value, x annealing_factor when the metric (train_loss) improves by less than "
        "improvement_threshold (relative) more than `patient` epochs in a row",
    ),
    epoch_entry(
        "AnchoredPlateau",
        AnchoredPlateauParams,
        AnchoredPlateau,
        "ReduceLROnPlateau",
        "x factor when the metric (train_loss) stays above its last improving value for more "
        "than `patience` epochs, never before dont_halve_until_epoch; floor lr_min (a ratio)",
    ),
)
