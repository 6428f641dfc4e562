"""Metrics of every member of a population at once: prediction error and free generation.

The lone-run measures (`trainables.dsr.metrics`) on the members' stacked parameters
(`population_model`): the n-step prediction error every epoch in one pass, the free generation
behind D_stsp and D_H in one pass; the two long-term measures themselves are then computed per
member and subject, as `long_term_metrics` computes them (D_stsp's side of the true series once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from trainables.dsr import population_model
from trainables.dsr.metrics import (
    D_H_CAP,
    PRED_ERROR_CAP,
    diverged,
    smoothed_spectrum,
    spectra_distance,
    state_space_divergences,
)
from trainables.dsr.training import DSRRun


def long_term_of_members(
    gens: torch.Tensor, test: Sequence[torch.Tensor]
) -> list[dict[str, float]]:
    """`long_term_metrics` of each member's generation in `gens` (members, subjects, steps,
    features) on the CPU; what depends on the true series alone is computed once for all."""
    d_stsp: list[list[float]] = [[] for _ in gens]
    d_h: list[list[float]] = [[] for _ in gens]
    for s, series in enumerate(test):
        true, ours = series.cpu(), gens[:, s, : len(series)]
        for k, (a, b) in enumerate(
            zip(state_space_divergences(true, ours), hellinger_distances(true, ours), strict=True)
        ):
            d_stsp[k].append(a)
            d_h[k].append(b)
    return [
        {"d_stsp": sum(a) / len(a), "d_h": sum(b) / len(b)}
        for a, b in zip(d_stsp, d_h, strict=True)
    ]


def hellinger_distances(true: torch.Tensor, gens: torch.Tensor) -> list[float]:
    """`hellinger_distance(true, gen)` for every `gen` in `gens` (members, time, features), the
    true series' spectrum computed once and the members' spectra in one pass."""
    n = min(len(true), gens.shape[1])
    capped = [diverged(true, gen) for gen in gens]
    pending = [k for k, cap in enumerate(capped) if not cap]
    out = [D_H_CAP] * len(gens)
    if pending:
        true_spectrum = smoothed_spectrum(true[:n])
        distances = spectra_distance(true_spectrum, smoothed_spectrum(gens[pending, :n]))
        for k, value in zip(pending, distances.tolist(), strict=True):
            out[k] = float(value)
    return out


class PopulationMetrics:
    """Evaluation of stacked parameters on the test series of `run` (any member's)."""

    def __init__(self, run: DSRRun) -> None:
        self.test, self.n_steps = run.test, run.settings.pred_steps

    @torch.no_grad()
    def prediction_errors(self, stacked: Mapping[str, torch.Tensor]) -> list[float]:
        """Every member's `prediction_error`, computed for all members at once."""
        values = population_model.prediction_errors(stacked, self.test, self.n_steps).tolist()
        return [v if math.isfinite(v) and v < PRED_ERROR_CAP else PRED_ERROR_CAP for v in values]

    @torch.no_grad()
    def generated(
        self, stacked: Mapping[str, torch.Tensor], members: Sequence[int]
    ) -> torch.Tensor:
        """Free generation of `members` from each subject's first test observation, as
        `long_term_metrics` generates it: (members, subjects, steps, features), on the CPU."""
        first = torch.stack([series[0] for series in self.test])
        subjects = torch.arange(len(self.test), device=first.device)
        n_steps = max(len(series) for series in self.test)
        index = torch.tensor(list(members), device=first.device)
        params = {n: p.detach()[index] for n, p in stacked.items()}
        return population_model.generate(params, first, subjects, n_steps).cpu()
