"""Quality measures of a DSR model: n-step prediction error, D_stsp and D_H.

- `prediction_error`: mean squared error of free n-step-ahead predictions from encoded test
  observations, divided by each feature's test variance (1.0 = as good as predicting the mean).
- `state_space_divergence` (D_stsp): KL(p_true || p_gen) between Gaussian mixtures with an
  isotropic Gaussian of width `sigma` on every (standardized) point of each trajectory (Koppe et
  al. 2019; Mikhaeil et al. 2022), by a low-variance Monte-Carlo estimate (`metrics_stsp`). 0 for
  identical point clouds.
- `hellinger_distance` (D_H): the Hellinger distance between the smoothed, normalized power
  spectra of the true and generated series, averaged over features, exactly as the DSR lab's
  `eval/pse.py` defines it (`metrics_spectrum`); always in [0, 1].

Both long-term measures are capped (`D_STSP_CAP`, `D_H_CAP`) when generation leaves the data's
range or turns non-finite, so a diverged model gets the worst value instead of inf or NaN.
"""

from __future__ import annotations

import math

import torch

from trainables.dsr.metrics_spectrum import smoothed_spectrum, spectra_distance
from trainables.dsr.metrics_stsp import (
    log_density_at,
    log_mixture_density,
    mixture_kl,
    mixture_samples,
    sets_per_point,
)
from trainables.dsr.model import HierarchicalDSR

__all__ = [
    "D_H_CAP",
    "D_STSP_CAP",
    "PRED_ERROR_CAP",
    "diverged",
    "hellinger_distance",
    "log_mixture_density",
    "long_term_metrics",
    "prediction_error",
    "smoothed_spectrum",
    "spectra_distance",
    "state_space_divergence",
    "state_space_divergences",
]

D_STSP_CAP = 10.0
D_H_CAP = 1.0
PRED_ERROR_CAP = 10.0
#: generated values beyond this many standard deviations of the data count as diverged
DIVERGENCE_SD = 100.0
#: D_stsp's Monte-Carlo samples per true point, on average (more where the true series is sparse)
SAMPLES_PER_POINT = 40


def diverged(true: torch.Tensor, gen: torch.Tensor) -> bool:
    """Whether `gen` (time x features) is non-finite or far outside the range of `true`."""
    if not torch.isfinite(gen).all():
        return True
    mean, std = true.mean(0), true.std(0).clamp_min(1e-8)
    return bool(((gen - mean).abs() / std).max() > DIVERGENCE_SD)


def state_space_divergence(
    true: torch.Tensor,
    gen: torch.Tensor,
    sigma: float = 0.5,
    samples_per_point: int = SAMPLES_PER_POINT,
    max_points: int = 1000,
    seed: int = 0,
) -> float:
    """Monte-Carlo KL(p_true || p_gen) of Gaussian mixtures on the two point clouds, capped.

    Both series (time x features) are standardized with the true series' statistics and thinned
    to at most `max_points` evenly spaced points; about `samples_per_point` samples per true point
    come from a fixed-seed generator (`metrics_stsp`: stratified by point and radius, antithetic,
    a control variate).
    """
    return state_space_divergences(true, gen[None], sigma, samples_per_point, max_points, seed)[0]


def state_space_divergences(
    true: torch.Tensor,
    gens: torch.Tensor,
    sigma: float = 0.5,
    samples_per_point: int = SAMPLES_PER_POINT,
    max_points: int = 1000,
    seed: int = 0,
) -> list[float]:
    """`state_space_divergence(true, gen)` for every `gen` in `gens` (generations, time,
    features). The samples and their density under the true series are the same for every
    generation, so they are drawn and evaluated once; then one generation at a time.
    """
    out = [D_STSP_CAP if diverged(true, gen) else math.nan for gen in gens]
    pending = [k for k, value in enumerate(out) if math.isnan(value)]  # not capped
    if not pending:
        return out
    true = true.double()
    mean, std = true.mean(0), true.std(0).clamp_min(1e-8)
    p = ((true - mean) / std)[:: max(1, math.ceil(len(true) / max_points))]
    sets = sets_per_point(p, sigma, samples_per_point)
    samples = mixture_samples(p, sigma, sets, torch.Generator().manual_seed(seed))
    log_p = log_density_at(samples, p, sigma)
    thin = max(1, math.ceil(gens.shape[1] / max_points))
    for k in pending:
        q = ((gens[k].double() - mean) / std)[::thin]
        kl = mixture_kl(p, q, sigma, samples, log_p, sets)
        out[k] = float(min(max(kl, 0.0), D_STSP_CAP))
    return out


def hellinger_distance(true: torch.Tensor, gen: torch.Tensor, smoothing: float = 5.0) -> float:
    """Mean over features of the Hellinger distance between smoothed power spectra, in [0, 1]."""
    if diverged(true, gen):
        return D_H_CAP
    n = min(len(true), len(gen))
    spectra = smoothed_spectrum(true[:n], smoothing), smoothed_spectrum(gen[:n], smoothing)
    return float(spectra_distance(*spectra).clamp(0, D_H_CAP))


@torch.no_grad()
def prediction_error(
    model: HierarchicalDSR, test: tuple[torch.Tensor, ...], n_steps: int, stride: int = 10
) -> float:
    """Normalized MSE of free `n_steps`-ahead predictions from every `stride`-th test step."""
    errors = []
    for s, series in enumerate(test):
        starts = torch.arange(0, len(series) - n_steps, stride, device=series.device)
        subjects = torch.full_like(starts, s)
        pred = model.generate(series[starts], subjects, n_steps)[:, -1]
        mse = (pred - series[starts + n_steps]).square().mean(0) / series.var(0).clamp_min(1e-8)
        errors.append(mse.mean())
    value = torch.stack(errors).mean().item()
    return value if math.isfinite(value) and value < PRED_ERROR_CAP else PRED_ERROR_CAP


@torch.no_grad()
def long_term_metrics(model: HierarchicalDSR, test: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """D_stsp and D_H of free generation over each subject's test length, averaged over subjects."""
    first = torch.stack([series[0] for series in test])
    subjects = torch.arange(len(test), device=first.device)
    gen = model.generate(first, subjects, max(len(s) for s in test)).cpu()
    d_stsp, d_h = [], []
    for s, series in enumerate(test):
        true, ours = series.cpu(), gen[s, : len(series)]
        d_stsp.append(state_space_divergence(true, ours))
        d_h.append(hellinger_distance(true, ours))
    return {"d_stsp": sum(d_stsp) / len(d_stsp), "d_h": sum(d_h) / len(d_h)}
