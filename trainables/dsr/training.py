"""One DSR training run: batches, generalized teacher forcing, evaluation, checkpoint state.

An epoch is one pass over every subject's training series, cut into non-overlapping windows of
`seq_len + 1` steps at a random phase per subject (a fixed number of windows, so the number of
optimizer steps per epoch is fixed). Along a window the latent state is teacher-forced with the
encoded observations: `z_t = (1 - alpha) F(z_{t-1}) + alpha enc(x_t)`. The loss is the MSE of the
decoded one-step predictions plus the MSE of the encoder-decoder reconstruction.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from trainables.dsr.data import DSRData
from trainables.dsr.metrics import long_term_metrics, prediction_error
from trainables.dsr.model import HierarchicalDSR
from trainables.dsr.settings import DSRSettings
from trainables.lr import build_lr_plan
from trainables.lr.schedules.base import Clock
from trainables.lr.values import build_value_schedule
from trainables.reporting import TrainingDiverged


def windows_per_subject(lengths: list[int], window: int) -> list[int]:
    """How many windows of `window` steps each series gives per epoch (at least one)."""
    return [max(1, n // window - 1) for n in lengths]


def gtf_loss(
    model: HierarchicalDSR, x: torch.Tensor, subjects: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Teacher-forced one-step prediction loss plus reconstruction loss; x is (B, T+1, N)."""
    z_data = model.encode(x, subjects)
    params = model.dsr.subject_params(subjects)
    z = z_data[:, 0]
    predicted = []
    for t in range(1, x.shape[1]):
        z = model.dsr.step(z, params)
        predicted.append(z)
        z = (1 - alpha) * z + alpha * z_data[:, t]
    prediction = model.decode(torch.stack(predicted, dim=1))
    mse = nn.functional.mse_loss
    return mse(prediction, x[:, 1:]) + mse(model.decode(z_data), x)


class DSRRun:
    """Model, LR plan, data and random state of one run; trains and evaluates epoch by epoch."""

    def __init__(
        self, config: dict[str, Any], settings: DSRSettings, data: DSRData, device: torch.device
    ) -> None:
        self.settings, self.device = settings, device
        with torch.random.fork_rng(devices=[]):  # seeded init, the caller's RNG untouched
            torch.manual_seed(settings.seed)
            self.model = HierarchicalDSR(
                data.n_subjects,
                data.obs_dim,
                settings.latent_dim,
                settings.hidden_dim,
                settings.subject_dim,
            ).to(device)
        self.window = settings.seq_len + 1
        lengths = [len(s) for s in data.train]
        self.counts = windows_per_subject(lengths, self.window)
        padded = torch.zeros(data.n_subjects, max(lengths), data.obs_dim)
        for s, series in enumerate(data.train):
            padded[s, : len(series)] = series
        self.train, self.lengths = padded.to(device), lengths
        self.test = tuple(series.to(device) for series in data.test)
        self.steps_per_epoch = math.ceil(sum(self.counts) / settings.batch_size)
        self.plan = build_lr_plan(
            self.model, config, n_epochs=settings.n_epochs, steps_per_epoch=self.steps_per_epoch
        )
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.alpha_schedule = build_value_schedule(
            settings.alpha, settings.n_epochs, self.steps_per_epoch, path="alpha"
        )
        self.step = 0
        self.epoch = 0
        self.long_term: dict[str, float] = {}

    def alpha(self) -> float:
        """The teacher-forcing alpha of the coming batch, clipped to [0, 1]."""
        clock = Clock(self.epoch, self.step, self.settings.n_epochs, self.steps_per_epoch)
        return min(max(self.alpha_schedule.value(clock), 0.0), 1.0)

    def batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """This epoch's (subject ids, window starts) batches, drawn from the run's generator."""
        subjects, starts = [], []
        for s, (length, count) in enumerate(zip(self.lengths, self.counts, strict=True)):
            slack = length - count * self.window
            phase = int(torch.randint(slack + 1, (), generator=self.generator))
            subjects += [s] * count
            starts += [phase + k * self.window for k in range(count)]
        order = torch.randperm(len(starts), generator=self.generator)
        subject_ids, start_ids = torch.tensor(subjects)[order], torch.tensor(starts)[order]
        size = self.settings.batch_size
        return [
            (subject_ids[i : i + size], start_ids[i : i + size]) for i in range(0, len(order), size)
        ]

    def train_epoch(self) -> float:
        """One pass over the training data; the mean batch loss. Raises `TrainingDiverged`."""
        self.model.train()
        total = 0.0
        offsets = torch.arange(self.window)
        batches = self.batches()
        for i, (subjects, starts) in enumerate(batches):
            x = self.train[subjects[:, None], starts[:, None] + offsets].to(self.device)
            loss = gtf_loss(self.model, x, subjects.to(self.device), self.alpha())
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training loss became {value} at epoch {self.epoch + 1} (batch {i + 1} of "
                    f"{len(batches)}): lower the learning rates or set grad_clip"
                )
            self.plan.optimizer.zero_grad(set_to_none=True)
            if loss.requires_grad:  # False only while every group is frozen
                loss.backward()
                if self.settings.grad_clip is not None:
                    params = [p for p in self.model.parameters() if p.grad is not None]
                    nn.utils.clip_grad_norm_(params, self.settings.grad_clip)
                self.plan.optimizer.step()
            self.plan.step_batch()
            self.step += 1
            total += value
        self.epoch += 1
        return total / len(batches)

    def evaluate(self, long_term: bool) -> dict[str, float]:
        """Prediction error now; D_stsp and D_H when `long_term`, else the latest ones carried."""
        self.model.eval()
        metrics = {"pred_error": prediction_error(self.model, self.test, self.settings.pred_steps)}
        if long_term:
            self.long_term = long_term_metrics(self.model, self.test)
        return {**metrics, **self.long_term}

    def state_dict(self) -> dict[str, Any]:
        """All it takes to continue exactly: model, LR plan (with optimizer), RNG, metrics."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "model": self.model.state_dict(),
            "plan": self.plan.state_dict(),
            "generator": self.generator.get_state(),
            "long_term": dict(self.long_term),
            "alpha_schedule": self.alpha_schedule.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.plan.load_state_dict(state["plan"])
        self.generator.set_state(state["generator"])
        self.alpha_schedule.load_state_dict(state["alpha_schedule"])
        self.long_term = {k: float(v) for k, v in state["long_term"].items()}
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
