"""D_H's power spectra, as the DSR lab defines them.

The definition is `eval/pse.py` of the lab's hierarchical-shPLRNN code (Eburs/
Multimodal_Seperate_Timescales, whose `evaluator.py` imports `compute_and_smooth_power_spectrum`
and `power_spectrum_error` from it): each feature is standardized over time, its power spectrum
`|rfft|^2` taken over all `T // 2 + 1` frequencies (the DC bin included), smoothed with
`scipy.ndimage.gaussian_filter1d(ps, smoothing)` at scipy's defaults (mode 'reflect', kernel
radius `int(4 * smoothing + 0.5)`) and normalized to sum 1; D_H is the Hellinger distance
`sqrt(|1 - sum sqrt(p q)|)` per feature, averaged over features. Their constant factor
`2 / len(x)` cancels in the normalization and is left out.

One departure: a constant series (a model stuck at a fixed point) has no spectrum; theirs gives
NaN, ours an all-zero spectrum, so D_H = 1 (no overlap).

Until this definition, the tuner smoothed with a zero-padded kernel and dropped the DC bin. On the
benchmark's 8 default subjects that was -7.3 % to +2.5 % off the lab's value for the 28 pairs of
subjects (D_H 0.10-0.22) and -23 % to +2.6 % for the two halves of each series (D_H 0.03-0.15).
That form is not kept as an option: it has no published counterpart to compare with.
"""

from __future__ import annotations

import torch

#: scipy's gaussian_filter1d default: the kernel reaches `truncate` standard deviations
TRUNCATE = 4.0


def gaussian_smooth(rows: torch.Tensor, sigma: float) -> torch.Tensor:
    """`scipy.ndimage.gaussian_filter1d(rows, sigma, axis=-1)` at its defaults, in torch: a
    normalized Gaussian kernel of radius `int(4 sigma + 0.5)` over the rows extended by
    half-sample reflection (`d c b a | a b c d | d c b a`, scipy's mode 'reflect')."""
    radius = int(TRUNCATE * sigma + 0.5)
    grid = torch.arange(-radius, radius + 1, dtype=rows.dtype, device=rows.device)
    kernel = torch.exp(-0.5 / sigma**2 * grid**2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    n = rows.shape[-1]
    index = torch.arange(-radius, n + radius, device=rows.device) % (2 * n)
    index = torch.where(index < n, index, 2 * n - 1 - index)  # reflected, at any radius
    padded = rows[..., index].reshape(-1, 1, n + 2 * radius)
    return torch.nn.functional.conv1d(padded, kernel).view(rows.shape)


def smoothed_spectrum(series: torch.Tensor, smoothing: float = 5.0) -> torch.Tensor:
    """Smoothed, normalized power spectrum per feature of series (..., time, features), as the
    lab's `compute_and_smooth_power_spectrum`: (..., features, time // 2 + 1), each summing to 1
    (all zero for a constant feature). `smoothing` <= 0: no smoothing."""
    x = series.double()
    x = x - x.mean(-2, keepdim=True)
    x = x / x.std(-2, correction=0, keepdim=True).clamp_min(1e-300)
    power = torch.fft.rfft(x, dim=-2).abs().square().transpose(-1, -2)
    if smoothing > 0:
        power = gaussian_smooth(power, smoothing)
    return power / power.sum(-1, keepdim=True).clamp_min(1e-300)


def spectra_distance(true_spectrum: torch.Tensor, spectrum: torch.Tensor) -> torch.Tensor:
    """Mean over features of the Hellinger distance `sqrt(|1 - sum sqrt(p q)|)` between spectra
    (..., features, frequencies), as the lab's `power_spectrum_error`; in [0, 1]."""
    overlap = (true_spectrum * spectrum).sqrt().sum(-1)
    return (1 - overlap).abs().sqrt().mean(-1).clamp(0, 1)
