"""`DSRSettings`: the training knobs of the DSR trainable, and checking a whole trainable config.

The trainable receives one flat dict: the LR keys of the seed format (`LR_KEYS`, read by the LR
library) plus the settings below. `dsr_config_problems` checks both, so a bad file is rejected
before Ray starts. `alpha` (generalized teacher forcing) is a number in [0, 1] or an LR-library
value schedule `{initial: 0.3, name: ..., hyperparameters: {...}}` (`initial` x the schedule's
multiplier, clipped to [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainables.dsr.data_source import DataKey, series_lengths
from trainables.lr import LR_KEYS, lr_config_problems
from trainables.lr.errors import ConfigError, Problem, pydantic_problems
from trainables.lr.values import value_schedule_problems


class DSRSettings(BaseModel):
    """Training settings of the DSR benchmark (every key optional; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_epochs: int = Field(default=50, ge=1)
    n_subjects: int = Field(default=8, ge=1, description="Lorenz subjects; an .npz decides its own")
    latent_dim: int = Field(default=8, ge=1)
    hidden_dim: int = Field(default=32, ge=1)
    subject_dim: int = Field(default=4, ge=1)
    batch_size: int = Field(default=16, ge=1)
    seq_len: int = Field(default=25, ge=1, description="predicted steps per training window")
    alpha: float | dict[str, Any] = Field(default=0.3, description="teacher-forcing alpha")
    grad_clip: float | None = Field(default=10.0, gt=0, allow_inf_nan=False)
    pred_steps: int = Field(default=10, ge=1, description="n of the n-step prediction error")
    eval_every: int = Field(default=5, ge=1, description="epochs between D_stsp/D_H evaluations")
    checkpoint_every: int = Field(default=5, ge=1)
    seed: int = Field(default=0, ge=0, description="initialization and batch order")
    data_seed: int = Field(default=0, ge=0, description="the synthetic data")
    train_steps: int = Field(default=1000, ge=2)
    test_steps: int = Field(default=3000, ge=2)
    data_path: str | None = None
    test_fraction: float = Field(default=0.25, gt=0, lt=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"

    @property
    def data_key(self) -> DataKey:
        return DataKey(
            n_subjects=self.n_subjects,
            train_steps=self.train_steps,
            test_steps=self.test_steps,
            data_seed=self.data_seed,
            data_path=None if self.data_path is None else str(Path(self.data_path).expanduser()),
            test_fraction=self.test_fraction,
        )


def settings_of(config: Mapping[str, Any]) -> DSRSettings:
    """The validated settings part of a trainable config; raises `ConfigError` listing problems."""
    settings = {k: v for k, v in config.items() if k not in LR_KEYS}
    problems = alpha_problems(settings.pop("alpha", 0.3))
    try:
        validated = DSRSettings.model_validate(settings)
    except ValidationError as error:
        problems += pydantic_problems(error)
    if problems:
        raise ConfigError(problems)
    return validated.model_copy(update={"alpha": config.get("alpha", 0.3)})


def alpha_problems(alpha: Any) -> list[Problem]:
    """Problems of the teacher-forcing alpha: a number in [0, 1] or a valid value schedule."""
    problems = value_schedule_problems(alpha, "alpha")
    mapping = isinstance(alpha, Mapping)
    initial = alpha.get("initial") if mapping else alpha
    if not any(p.path == ("alpha.initial" if mapping else "alpha") for p in problems):
        if initial is not None and not 0 <= float(initial) <= 1:
            path = "alpha.initial" if mapping else "alpha"
            problems.append(Problem(path, f"is {initial!r}, but must be in [0, 1]", "e.g. 0.3"))
    return problems


def data_problems(settings: DSRSettings) -> list[Problem]:
    """Problems of the data the settings point at (a user's .npz): shapes, lengths, values.

    Needs no torch: the data is not built, a user's .npz is read with numpy.
    """
    try:
        train, test = series_lengths(settings.data_key)
    except ConfigError as error:
        return list(error.problems)
    problems = []
    if settings.data_path is not None and "n_subjects" in settings.model_fields_set:
        if settings.n_subjects != len(train):
            msg = f"is {settings.n_subjects}, but '{settings.data_path}' has {len(train)}"
            problems.append(Problem("n_subjects", msg, "leave it out with data_path"))
    if min(train) < settings.seq_len + 1:
        msg = f"is {settings.seq_len}, but a training series is shorter than seq_len + 1"
        problems.append(Problem("seq_len", msg, "lower seq_len or give longer series"))
    if min(test) <= settings.pred_steps:
        msg = f"is {settings.pred_steps}, but a test series is not longer than it"
        problems.append(Problem("pred_steps", msg, "lower pred_steps or give longer series"))
    return problems


def dsr_config_problems(config: Any) -> list[Problem]:
    """Every problem of a DSR trainable config: its settings, its data and its LR keys."""
    if not isinstance(config, Mapping):
        return [Problem("", f"config is {config!r}, but must be a mapping")]
    problems = list(lr_config_problems(config))
    try:
        settings = settings_of(config)
    except ConfigError as error:
        return [*problems, *error.problems]
    return [*problems, *data_problems(settings)]
