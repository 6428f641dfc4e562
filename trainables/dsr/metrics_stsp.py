"""D_stsp's estimator: KL(p_true || p_gen) between two equal-weight isotropic Gaussian mixtures.

The quantity is the lab's (Koppe et al. 2019; Mikhaeil et al. 2022): one Gaussian of width `sigma`
on every point of each (standardized) series. Its Monte-Carlo estimate is built to be steady, so
that ASHA does not rank models by sampling noise:

- stratified: the samples are drawn around every true point, each point's own mean weighs 1/Q
  (no noise from which points happen to be drawn);
- antithetic orthogonal sets: per point, 2 M samples `c +- sigma r_j u_j` along M random
  orthonormal directions `u_j` with chi(M) radii `r_j`; each sample is exactly N(c, sigma^2 I)
  and the set cancels the odd part of the integrand;
- a control variate: with r = p_gen / p_true, E_true[r - 1] = 0 exactly (both densities are
  normalized), so KL = E_true[-log r - beta (r - 1)] for any beta; beta is the one that
  minimizes the estimator's variance, from the samples (left out when it is not finite);
- two stages: a pilot set per point, then the rest of the budget to the points whose residuals
  vary most (Neyman allocation, samples ~ their standard deviation): most of the attractor is
  matched and needs few samples, the mismatched parts get them.

BENCHMARKS.md ("D_stsp") gives the spread over sampling seeds and the time, before and after.
"""

from __future__ import annotations

import math

import torch

#: samples evaluated against the mixture at a time: a (chunk x points) matrix stays ~32 MB
CHUNK = 4096


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


def log_density_at(samples: torch.Tensor, centers: torch.Tensor, sigma: float) -> torch.Tensor:
    """`log_mixture_density` of samples (n, M) under centers (Q, M), `CHUNK` samples at a time,
    in float32 (twice as fast; D_stsp moves by ~1e-7 relative), returned in float64."""
    centers = centers.float()
    parts = [log_mixture_density(s.float(), centers, sigma) for s in samples.split(CHUNK)]
    return torch.cat(parts).double()


def mixture_samples(
    centers: torch.Tensor, sigma: float, rounds: int, generator: torch.Generator
) -> torch.Tensor:
    """`rounds` x 2 M samples per center of the mixture on centers (Q, M), the antithetic
    orthogonal sets described above; laid out round by round, center by center."""
    q, m = centers.shape
    shape = (rounds, q, m, m)
    directions = torch.linalg.qr(torch.randn(shape, generator=generator, dtype=centers.dtype)).Q
    radii = torch.randn(shape, generator=generator, dtype=centers.dtype).norm(dim=-1)
    steps = (directions * radii.unsqueeze(-2)).transpose(-1, -2)  # row j: r_j u_j
    steps = torch.cat([steps, -steps], dim=-2)
    return (centers.unsqueeze(-2) + sigma * steps).reshape(-1, m)


def pilot_rounds(n_features: int) -> int:
    """Rounds of the pilot: at least two antithetic pairs per point, to measure their spread."""
    return max(1, math.ceil(2 / n_features))


def mixture_kl(
    p: torch.Tensor,
    q: torch.Tensor,
    sigma: float,
    pilot: torch.Tensor,
    log_p: torch.Tensor,
    samples_per_point: int,
    seed: int,
) -> float:
    """KL(p || q) of the mixtures on points p and q (n, M), from `pilot` (`pilot_rounds` of
    `mixture_samples(p)`, `log_p` its density under p) and about `samples_per_point` x n samples
    in all: the rest go to the points whose pilot residuals vary most (Neyman: n_i ~ sd_i).
    The units are antithetic pairs (the mean of f(c + z) and f(c - z)), not single samples."""
    n_points, m = p.shape
    naive, ratio, owner = _pair_means(log_p, log_density_at(pilot, q, sigma), n_points, m)
    beta = _control_coefficient(owner, n_points, naive, ratio)
    residual = naive - beta * (ratio - 1) if bool(torch.isfinite(beta)) else naive
    counts, s_e, s_ee = _per_point_sums(
        owner, n_points, torch.ones_like(residual), residual, residual.square()
    )
    sd = ((s_ee - s_e.square() / counts) / (counts - 1)).clamp_min(0).sqrt()
    extra_sets = max(0, round((samples_per_point * n_points - len(pilot)) / (2 * m)))
    if extra_sets and float(sd.sum()) > 0:
        sets = (sd / sd.sum() * extra_sets).round().long()
        generator = torch.Generator().manual_seed(seed + 1)
        extra = mixture_samples(p.repeat_interleave(sets, 0), sigma, 1, generator)
        log_p_extra, log_q_extra = log_density_at(extra, p, sigma), log_density_at(extra, q, sigma)
        more = _pair_means(log_p_extra, log_q_extra, int(sets.sum()), m)
        point = torch.arange(n_points).repeat_interleave(sets)
        naive, ratio = torch.cat([naive, more[0]]), torch.cat([ratio, more[1]])
        owner = torch.cat([owner, point[more[2]]])
    return _stratified_estimate(owner, n_points, naive, ratio)


def _pair_means(
    log_p: torch.Tensor, log_q: torch.Tensor, n_points: int, m: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log p/q and q/p averaged over each antithetic pair of samples laid out as
    `mixture_samples` lays them (rounds, points, +-, M), and the point of each pair."""
    naive = (log_p - log_q).view(-1, n_points, 2, m).mean(2).reshape(-1)
    ratio = (log_q - log_p).exp().view(-1, n_points, 2, m).mean(2).reshape(-1)
    owner = torch.arange(n_points).repeat_interleave(m).repeat(len(naive) // (n_points * m))
    return naive, ratio, owner


def _per_point_sums(owner: torch.Tensor, n_points: int, *values: torch.Tensor) -> list:
    """Per point sums of each of `values` (samples,), the samples' points given by `owner`."""
    return [torch.zeros(n_points, dtype=v.dtype).index_add_(0, owner, v) for v in values]


def _control_coefficient(
    owner: torch.Tensor, n_points: int, naive: torch.Tensor, ratio: torch.Tensor
) -> torch.Tensor:
    """The variance-minimizing beta of the control variate for the stratified estimator: the
    sum over points of cov_i(naive, ratio) / n_i over the sum of var_i(ratio) / n_i."""
    counts = torch.zeros(n_points, dtype=naive.dtype).index_add_(0, owner, torch.ones_like(naive))
    s_a, s_r, s_ar, s_rr = _per_point_sums(
        owner, n_points, naive, ratio, naive * ratio, ratio.square()
    )
    mean_r = s_r / counts
    cov = (s_ar - s_a * mean_r) / (counts - 1) / counts
    var = (s_rr - s_r * mean_r) / (counts - 1) / counts
    return cov.sum() / var.sum()


def _stratified_estimate(
    owner: torch.Tensor, n_points: int, naive: torch.Tensor, ratio: torch.Tensor
) -> float:
    """mean_i(naive_i) - beta (mean_i(ratio_i) - 1) over the points' own sample means."""
    counts = torch.zeros(n_points, dtype=naive.dtype).index_add_(0, owner, torch.ones_like(naive))
    s_a, s_r = _per_point_sums(owner, n_points, naive, ratio)
    value = (s_a / counts).mean()
    beta = _control_coefficient(owner, n_points, naive, ratio)
    if not bool(torch.isfinite(beta)):  # r identical everywhere (p = q) or beyond float range
        return float(value)
    return float(value - beta * ((s_r / counts).mean() - 1))
