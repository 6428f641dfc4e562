"""D_stsp's estimator: KL(p_true || p_gen) between two equal-weight isotropic Gaussian mixtures.

The quantity is the lab's (Koppe et al. 2019; Mikhaeil et al. 2022): one Gaussian of width `sigma`
on every point of each (standardized) series. Its Monte-Carlo estimate is built to be steady, so
that ASHA does not rank models by sampling noise, and unbiased but for the control variate's
fitted coefficient (a bias of order 1 / samples):

- stratified: the samples are drawn around every true point, each point's own mean weighs 1/Q
  (no noise from which points happen to be drawn);
- sets per point ~ 1 / p_true at the point, plus an even floor: sparse stretches of the
  attractor, where a few components make the densities and their log ratio varies most, get more
  samples than dense ones, whose neighbours' samples cover the same ground. The allocation
  depends on the true series alone, so it adds no bias (allocating by a pilot's own spread does:
  the points whose pilot missed the tail got the fewest samples and kept their low pilot means,
  3.5-5.5 % low at small divergences);
- antithetic orthogonal sets: per set, 2 M samples `c +- sigma r_j u_j` along M random
  orthonormal directions `u_j`; the set cancels the odd part of the integrand;
- stratified radii: r_j is drawn from the j-th of M strata of chi(M) (quantile levels
  1 - (1 - v)^2, v in [j/M, (j+1)/M): narrower toward the tail, where most of the variance is)
  and its pair weighs the stratum's probability, so a set's weighted mean is an unbiased estimate
  of the mean under N(c, sigma^2 I);
- a control variate: with r = p_gen / p_true, E_true[r - 1] = 0 exactly (both densities are
  normalized), so KL = E_true[-log r - beta (r - 1)] for any beta; beta is the one that
  minimizes the estimator's variance, from the samples (left out when it is not finite).

BENCHMARKS.md ("D_stsp") gives the spread over sampling seeds, the bias and the time.
"""

from __future__ import annotations

import math

import torch

#: samples evaluated against the mixture at a time: a (chunk x points) matrix of ~2 MB, in cache
#: (twice as fast as 4,096 at a time)
CHUNK = 512


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
    in float32 (D_stsp moves by ~1e-7 relative), returned in float64."""
    scale = 1 / (2 * sigma**2)
    c = centers.float()
    # [x, 1, |x|^2] . [2 s c, -s |c|^2, -s] = -s |x - c|^2: every exponent from one matmul; exp
    # from a floor of -80 (float32's exp is ~10x slower where it underflows), which adds at most
    # Q e^-80 to a sum: rows whose sum is under Q 1e-25 (every center far) go the max-shifted way
    weights = torch.cat([2 * scale * c, -scale * c.square().sum(-1, keepdim=True)], 1)
    weights = torch.cat([weights, torch.full((len(c), 1), -scale, dtype=c.dtype)], 1).T.contiguous()
    parts = []
    for s in samples.float().split(CHUNK):
        augmented = torch.cat([s, torch.ones_like(s[:, :1]), s.square().sum(-1, keepdim=True)], 1)
        total = (augmented @ weights).clamp_min_(-80).exp_().sum(-1).double()
        part = total.log() - math.log(len(c))
        far = total < 1e-25 * len(c)
        if bool(far.any()):
            part[far] = log_mixture_density(s[far], c, sigma).double()
        parts.append(part)
    return torch.cat(parts)


#: floor of the allocation: this share of the samples is spread evenly over the points
EVEN_SHARE = 0.2


def sets_per_point(centers: torch.Tensor, sigma: float, samples_per_point: float) -> torch.Tensor:
    """Antithetic orthogonal sets (2 M samples each) per center of the mixture on centers (Q, M),
    about `samples_per_point` x Q samples in all: ~ 1 / density at the center, plus
    `EVEN_SHARE` spread evenly; at least one set each."""
    m = centers.shape[1]
    log_density = log_density_at(centers, centers, sigma)
    sparsity = (log_density.min() - log_density).exp()  # in (0, 1]: 1 / density, scaled
    share = (1 - EVEN_SHARE) * sparsity / sparsity.mean() + EVEN_SHARE
    return (share * (samples_per_point / (2 * m))).round().long().clamp_min(1)


def radius_strata(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The M strata of chi(M)'s quantile levels, as lower ends and widths (probabilities):
    1 - (1 - v)^2 for v in [j/M, (j+1)/M), narrower toward the tail."""
    edges = 1 - (1 - torch.arange(m + 1, dtype=torch.float64) / m).square()
    return edges[:-1], edges.diff()


def chi_quantile(levels: torch.Tensor, m: int, steps: int = 5) -> torch.Tensor:
    """Quantiles of chi(M) at `levels` in [0, 1), in float64: Newton's method on log x for the
    chi^2(M) quantile x, on the log of the nearer tail's probability (scipy's gammaincinv to
    ~1e-14 relative at 1-30 features)."""
    a = torch.tensor(m / 2, dtype=torch.float64)
    u = levels.double()
    upper = u > 0.5
    target = torch.where(upper, 1 - u, u).clamp_min(1e-300).log()
    # start: Wilson-Hilferty, or the leading term of the lower tail where that is larger
    c = 2 / (9 * m)
    z = torch.special.ndtri(u.clamp(1e-300, 1 - 1e-16))
    x = m * (1 - c + z * math.sqrt(c)).clamp_min(0) ** 3
    x = torch.maximum(x, 2 * ((u.clamp_min(1e-300).log() + math.lgamma(m / 2 + 1)) / (m / 2)).exp())
    y = x.clamp_min(1e-300).log()
    log_norm = m / 2 * math.log(2) + math.lgamma(m / 2)
    for _ in range(steps):
        x = y.exp()
        tail = torch.empty_like(x)
        tail[~upper] = torch.special.gammainc(a, x[~upper] / 2)
        tail[upper] = torch.special.gammaincc(a, x[upper] / 2)
        log_tail = tail.clamp_min(1e-300).log()
        # d log(tail) / d y = -+ density(x) x / tail
        slope = (m / 2 * y - x / 2 - log_norm - log_tail).exp()
        y = y + torch.where(upper, 1, -1) * (log_tail - target) / slope
    return torch.where(u > 0, y.exp().sqrt(), 0)


def mixture_samples(
    centers: torch.Tensor, sigma: float, sets: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """`sets[i]` antithetic orthogonal sets of 2 M samples around each of centers (Q, M), as
    described above: (sets.sum() x 2 x M, M), set by set, + then - along the M directions;
    direction j's radius comes from `radius_strata`'s stratum j."""
    n, m = int(sets.sum()), centers.shape[1]
    directions = torch.linalg.qr(torch.randn((n, m, m), generator=generator, dtype=centers.dtype)).Q
    low, width = radius_strata(m)
    levels = low + width * torch.rand((n, m), generator=generator, dtype=width.dtype)
    radii = chi_quantile(levels, m).to(centers.dtype)
    steps = (directions * radii.unsqueeze(-2)).transpose(-1, -2)  # row j: r_j u_j
    steps = torch.stack([steps, -steps], dim=1)
    return (centers.repeat_interleave(sets, 0)[:, None, None] + sigma * steps).reshape(-1, m)


def mixture_kl(
    p: torch.Tensor,
    q: torch.Tensor,
    sigma: float,
    samples: torch.Tensor,
    log_p: torch.Tensor,
    sets: torch.Tensor,
) -> float:
    """KL(p || q) of the mixtures on points p and q (n, M), from `samples` =
    `mixture_samples(p, sigma, sets)` and `log_p`, their density under p. Per point: the mean over
    its sets of the strata-weighted antithetic pairs; then the mean over points, less beta times
    the same of r - 1."""
    n_points, m = p.shape
    log_ratio = (log_p - log_density_at(samples, q, sigma)).view(-1, 2, m)
    naive, ratio = log_ratio.mean(1), log_ratio.neg().exp_().mean(1)  # (sets, M) antithetic pairs
    weight = radius_strata(m)[1]
    owner = torch.arange(n_points).repeat_interleave(sets)
    counts = sets.double()

    def per_point(values: torch.Tensor) -> torch.Tensor:
        sums = torch.zeros(n_points, dtype=values.dtype).index_add_(0, owner, values @ weight)
        return sums / counts

    mean_naive, mean_ratio = per_point(naive), per_point(ratio)
    # beta = sum_i cov_i / sum_i var_i of the points' means, each pair's spread around its point's
    # mean weighted as the pair enters the estimate (weight^2 / sets)
    dev_naive, dev_ratio = naive - mean_naive[owner, None], ratio - mean_ratio[owner, None]
    pair_weight = weight.square() / counts[owner, None]
    beta = (pair_weight * dev_naive * dev_ratio).sum() / (pair_weight * dev_ratio.square()).sum()
    value = mean_naive.mean()
    if not bool(torch.isfinite(beta)):  # r identical everywhere (p = q) or beyond float range
        return float(value)
    return float(value - beta * (mean_ratio.mean() - 1))
