"""Metrics of every member of a population at once: prediction error and free generation.

The lone-run measures (`trainables.dsr.metrics`) vmapped over the members' stacked parameters
through `functional_call`: the n-step prediction error every epoch in one pass, the free
generation behind D_stsp and D_H in one pass; the two long-term measures themselves are then
computed per member and subject, exactly as `long_term_metrics` computes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from trainables.dsr.metrics import PRED_ERROR_CAP, hellinger_distance, state_space_divergence
from trainables.dsr.model import HierarchicalDSR
from trainables.dsr.training import DSRRun


class _PredictionError(nn.Module):
    """`prediction_error` as a forward returning a tensor, so it can be vmapped over members."""

    def __init__(self, model: HierarchicalDSR, run: DSRRun, stride: int = 10) -> None:
        super().__init__()
        self.model = model
        self.test, self.n_steps, self.stride = run.test, run.settings.pred_steps, stride

    def forward(self) -> torch.Tensor:
        errors = []
        for s, series in enumerate(self.test):
            starts = torch.arange(0, len(series) - self.n_steps, self.stride, device=series.device)
            subjects = torch.full_like(starts, s)
            pred = self.model.generate(series[starts], subjects, self.n_steps)[:, -1]
            target = series[starts + self.n_steps]
            mse = (pred - target).square().mean(0) / series.var(0).clamp_min(1e-8)
            errors.append(mse.mean())
        return torch.stack(errors).mean()


class _Generate(nn.Module):
    """`HierarchicalDSR.generate` as a forward, so it can be vmapped over members."""

    def __init__(self, model: HierarchicalDSR) -> None:
        super().__init__()
        self.model = model

    def forward(self, x0: torch.Tensor, subjects: torch.Tensor, n_steps: int) -> torch.Tensor:
        return self.model.generate(x0, subjects, n_steps)


def long_term_of(gen: torch.Tensor, test: Sequence[torch.Tensor]) -> dict[str, float]:
    """`long_term_metrics` from a member's generation (subjects, steps, features) on the CPU."""
    d_stsp, d_h = [], []
    for s, series in enumerate(test):
        true, ours = series.cpu(), gen[s, : len(series)]
        d_stsp.append(state_space_divergence(true, ours))
        d_h.append(hellinger_distance(true, ours))
    return {"d_stsp": sum(d_stsp) / len(d_stsp), "d_h": sum(d_h) / len(d_h)}


class PopulationMetrics:
    """Vmapped evaluation of stacked parameters on the test series of `run` (any member's)."""

    def __init__(self, run: DSRRun) -> None:
        self.test, self.device = run.test, run.device
        self._pred_error = _PredictionError(run.model, run)
        self._generate = _Generate(run.model)

    @torch.no_grad()
    def prediction_errors(self, stacked: Mapping[str, torch.Tensor]) -> list[float]:
        """Every member's `prediction_error`, computed for all members at once."""

        def one(params: dict[str, torch.Tensor]) -> torch.Tensor:
            named = {f"model.{n}": p for n, p in params.items()}
            return functional_call(self._pred_error, named, ())

        params = {n: p.detach() for n, p in stacked.items()}
        values = vmap(one)(params).cpu().tolist()
        return [v if math.isfinite(v) and v < PRED_ERROR_CAP else PRED_ERROR_CAP for v in values]

    @torch.no_grad()
    def generated(
        self, stacked: Mapping[str, torch.Tensor], members: Sequence[int]
    ) -> torch.Tensor:
        """Free generation of `members` from each subject's first test observation, as
        `long_term_metrics` generates it: (members, subjects, steps, features), on the CPU."""
        test = self.test
        first = torch.stack([series[0] for series in test])
        subjects = torch.arange(len(test), device=first.device)
        n_steps = max(len(series) for series in test)

        def one(params: dict[str, torch.Tensor]) -> torch.Tensor:
            named = {f"model.{n}": p for n, p in params.items()}
            return functional_call(self._generate, named, (first, subjects, n_steps))

        index = torch.tensor(list(members), device=self.device)
        params = {n: p.detach()[index] for n, p in stacked.items()}
        return vmap(one)(params).cpu()
