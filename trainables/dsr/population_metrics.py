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

from trainables.dsr.metrics import (
    D_STSP_CAP,
    PRED_ERROR_CAP,
    diverged,
    hellinger_distance,
    log_mixture_density,
)
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


def long_term_of_members(
    gens: torch.Tensor, test: Sequence[torch.Tensor]
) -> list[dict[str, float]]:
    """`long_term_metrics` of each member's generation in `gens` (members, subjects, steps,
    features) on the CPU; D_stsp's side of the true series is computed once for all members."""
    d_stsp: list[list[float]] = [[] for _ in gens]
    d_h: list[list[float]] = [[] for _ in gens]
    for s, series in enumerate(test):
        true, ours = series.cpu(), gens[:, s, : len(series)]
        for k, value in enumerate(state_space_divergences(true, ours)):
            d_stsp[k].append(value)
            d_h[k].append(hellinger_distance(true, ours[k]))
    return [
        {"d_stsp": sum(a) / len(a), "d_h": sum(b) / len(b)}
        for a, b in zip(d_stsp, d_h, strict=True)
    ]


def state_space_divergences(
    true: torch.Tensor,
    gens: torch.Tensor,
    sigma: float = 0.5,
    n_samples: int = 1000,
    max_points: int = 1000,
    seed: int = 0,
) -> list[float]:
    """`state_space_divergence(true, gen)` for every `gen` in `gens` (members, time, features).

    The samples and their density under the true series are the same for every member, so they
    are drawn and evaluated once; then member by member (one (samples, points) matrix at a time
    is faster than a batch of them: the batch's matrices outgrow the caches).
    """
    out = [D_STSP_CAP if diverged(true, gen) else math.nan for gen in gens]
    pending = [k for k, value in enumerate(out) if math.isnan(value)]  # not capped
    if not pending:
        return out
    true = true.double()
    mean, std = true.mean(0), true.std(0).clamp_min(1e-8)
    p = ((true - mean) / std)[:: max(1, math.ceil(len(true) / max_points))]
    rng = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(p), (n_samples,), generator=rng)
    noise = torch.randn(n_samples, p.shape[1], generator=rng, dtype=p.dtype)
    samples = p[idx] + sigma * noise
    log_p = log_mixture_density(samples, p, sigma)
    thin = max(1, math.ceil(gens.shape[1] / max_points))
    for k in pending:
        q = ((gens[k].double() - mean) / std)[::thin]
        kl = (log_p - log_mixture_density(samples, q, sigma)).mean().item()
        out[k] = float(min(max(kl, 0.0), D_STSP_CAP))
    return out


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
