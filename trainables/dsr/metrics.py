"""Quality measures of a DSR model: n-step prediction error, D_stsp and D_H.

- `prediction_error`: mean squared error of free n-step-ahead predictions from encoded test
  observations, divided by each feature's test variance (1.0 = as good as predicting the mean).
- `state_space_divergence` (D_stsp): the Gaussian-mixture Monte-Carlo estimate of
  KL(p_true || p_gen), with an isotropic Gaussian of width `sigma` on every (standardized) point
  of each trajectory (Koppe et al. 2019; Mikhaeil et al. 2022). 0 for identical point clouds.
- `hellinger_distance` (D_H): the Hellinger distance between the smoothed, normalized power
  spectra of the true and generated series, averaged over features; always in [0, 1].

Both long-term measures are capped (`D_STSP_CAP`, `D_H_CAP`) when generation leaves the data's
range or turns non-finite, so a diverged model gets the worst value instead of inf or NaN.
"""

from __future__ import annotations

import math

import torch

from trainables.dsr.model import HierarchicalDSR

D_STSP_CAP = 10.0
D_H_CAP = 1.0
PRED_ERROR_CAP = 10.0
#: generated values beyond this many standard deviations of the data count as diverged
DIVERGENCE_SD = 100.0


def diverged(true: torch.Tensor, gen: torch.Tensor) -> bool:
    """Whether `gen` (time x features) is non-finite or far outside the range of `true`."""
    if not torch.isfinite(gen).all():
        return True
    mean, std = true.mean(0), true.std(0).clamp_min(1e-8)
    return bool(((gen - mean).abs() / std).max() > DIVERGENCE_SD)


def log_mixture_density(points: torch.Tensor, centers: torch.Tensor, sigma: float) -> torch.Tensor:
    """log of the equal-weight isotropic Gaussian mixture at `points`, up to a shared constant;
    points (..., n, M) and centers (..., Q, M) with the same leading dimensions -> (..., n)."""
    # -|x - c|^2 / (2 sigma^2) = (2 x.c - |c|^2 - |x|^2) / (2 sigma^2): one matmul, the rest in
    # place on the (n, Q) matrix (4x faster than cdist, square and logsumexp's temporaries);
    # |x|^2 is the same for every center, so it leaves the log-sum-exp and is subtracted after
    scale = 1 / (2 * sigma**2)
    logits = torch.matmul(points * (2 * scale), centers.transpose(-1, -2))
    logits.sub_(centers.square().sum(-1).mul_(scale).unsqueeze(-2))
    top = logits.amax(-1, keepdim=True)
    log_sum = logits.sub_(top).exp_().sum(-1).log_().add_(top.squeeze(-1))
    return log_sum - points.square().sum(-1) * scale - math.log(centers.shape[-2])


def state_space_divergence(
    true: torch.Tensor,
    gen: torch.Tensor,
    sigma: float = 0.5,
    n_samples: int = 1000,
    max_points: int = 1000,
    seed: int = 0,
) -> float:
    """Monte-Carlo KL(p_true || p_gen) of Gaussian mixtures on the two point clouds, capped.

    Both series (time x features) are standardized with the true series' statistics and thinned
    to at most `max_points` evenly spaced points; samples come from a fixed-seed generator.
    """
    return state_space_divergences(true, gen[None], sigma, n_samples, max_points, seed)[0]


def state_space_divergences(
    true: torch.Tensor,
    gens: torch.Tensor,
    sigma: float = 0.5,
    n_samples: int = 1000,
    max_points: int = 1000,
    seed: int = 0,
) -> list[float]:
    """`state_space_divergence(true, gen)` for every `gen` in `gens` (generations, time,
    features). The samples and their density under the true series are the same for every
    generation, so they are drawn and evaluated once; then one generation at a time (one
    (samples, points) matrix at a time is faster than a batch of them: they outgrow the caches).
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


def smoothed_spectrum(series: torch.Tensor, smoothing: float = 5.0) -> torch.Tensor:
    """Smoothed power spectrum per feature of series (..., time, features): (..., features,
    frequencies), each summing to 1."""
    x = series.double()
    x = (x - x.mean(-2, keepdim=True)) / x.std(-2, keepdim=True).clamp_min(1e-12)
    power = torch.fft.rfft(x, dim=-2).abs().square().transpose(-1, -2)[..., 1:]
    radius = max(1, int(4 * smoothing))
    grid = torch.arange(-radius, radius + 1, dtype=power.dtype)
    kernel = torch.exp(-0.5 * (grid / smoothing) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    rows = power.reshape(-1, 1, power.shape[-1])
    smooth = torch.nn.functional.conv1d(rows, kernel, padding=radius).view(power.shape)
    return smooth / smooth.sum(-1, keepdim=True).clamp_min(1e-300)


def spectra_distance(true_spectrum: torch.Tensor, spectrum: torch.Tensor) -> torch.Tensor:
    """Mean over features of the Hellinger distance between spectra (..., features, freqs)."""
    overlap = (true_spectrum * spectrum).sqrt().sum(-1)
    return (1 - overlap).clamp(0, 1).sqrt().mean(-1).clamp(0, D_H_CAP)


def hellinger_distance(true: torch.Tensor, gen: torch.Tensor, smoothing: float = 5.0) -> float:
    """Mean over features of the Hellinger distance between smoothed power spectra, in [0, 1]."""
    if diverged(true, gen):
        return D_H_CAP
    n = min(len(true), len(gen))
    spectra = smoothed_spectrum(true[:n], smoothing), smoothed_spectrum(gen[:n], smoothing)
    return float(spectra_distance(*spectra))


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
