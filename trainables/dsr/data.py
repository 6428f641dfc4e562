"""Benchmark data: noisy multi-subject Lorenz-63 observations or a user's `.npz`, cached.

Each subject is a Lorenz-63 system with its own `rho` (evenly spaced over 24..44), integrated with
RK4 at dt 0.02 after a burn-in, then observed through one shared 3->5 mixing with a per-subject
gain and offset per feature, plus noise of 5 % of each feature's standard deviation. Training and
test series follow each other in time. Data is a pure function of the data settings and is built
once per worker process (`load_data` is cached).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from trainables.dsr.data_source import DataKey, npz_series, train_length

__all__ = [
    "DSRData",
    "DataKey",
    "load_data",
    "load_npz_data",
    "lorenz_rhs",
    "make_lorenz_data",
    "simulate_lorenz",
]

DT = 0.02
BURN_IN = 1000
OBS_DIM = 5
NOISE = 0.05
RHO_RANGE = (24.0, 44.0)


@dataclass(frozen=True)
class DSRData:
    """Per-subject training and test series (time x features), float32 on the CPU; read-only."""

    train: tuple[torch.Tensor, ...]
    test: tuple[torch.Tensor, ...]

    @property
    def n_subjects(self) -> int:
        return len(self.train)

    @property
    def obs_dim(self) -> int:
        return int(self.train[0].shape[1])


def lorenz_rhs(state: np.ndarray, rho: np.ndarray, sigma: float = 10.0, beta: float = 8 / 3):
    """Lorenz-63 vector field for a batch of states (S, 3) with per-row `rho`."""
    x, y, z = state[:, 0], state[:, 1], state[:, 2]
    return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], axis=1)


def simulate_lorenz(rho: np.ndarray, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """RK4 trajectories (S, n_steps, 3) at dt `DT` after `BURN_IN` steps, one per `rho`."""
    state = rng.normal(0.0, 1.0, size=(len(rho), 3)) + np.array([1.0, 1.0, 20.0])
    out = np.empty((len(rho), n_steps, 3))
    for step in range(BURN_IN + n_steps):
        k1 = lorenz_rhs(state, rho)
        k2 = lorenz_rhs(state + 0.5 * DT * k1, rho)
        k3 = lorenz_rhs(state + 0.5 * DT * k2, rho)
        k4 = lorenz_rhs(state + DT * k3, rho)
        state = state + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if step >= BURN_IN:
            out[:, step - BURN_IN] = state
    return out


def make_lorenz_data(key: DataKey) -> DSRData:
    """The synthetic benchmark: S Lorenz subjects seen through a shared noisy 3->5 mixing."""
    rng = np.random.default_rng(key.data_seed)
    rho = np.linspace(*RHO_RANGE, key.n_subjects)
    latent = simulate_lorenz(rho, key.train_steps + key.test_steps, rng)
    latent = (latent - latent.mean(axis=(0, 1))) / latent.std(axis=(0, 1))
    mixing = rng.normal(0.0, 1.0 / np.sqrt(3), size=(3, OBS_DIM))
    gain = rng.uniform(0.7, 1.3, size=(key.n_subjects, 1, OBS_DIM))
    offset = rng.normal(0.0, 0.5, size=(key.n_subjects, 1, OBS_DIM))
    clean = gain * (latent @ mixing) + offset
    noisy = clean + NOISE * clean.std(axis=1, keepdims=True) * rng.normal(size=clean.shape)
    series = torch.from_numpy(noisy.astype(np.float32))
    return DSRData(
        train=tuple(s[: key.train_steps] for s in series),
        test=tuple(s[key.train_steps :] for s in series),
    )


def load_npz_data(key: DataKey) -> DSRData:
    """User data: one (time x features) array per subject, in name order, split in time.

    The last `test_fraction` of every series is the test part. Features are standardized with
    the training statistics pooled over subjects, so differences between subjects survive.
    """
    arrays = npz_series(key)
    series = [torch.from_numpy(a.astype(np.float32)) for a in arrays]
    cut = [train_length(a.shape[0], key.test_fraction) for a in arrays]
    train = [s[:c] for s, c in zip(series, cut, strict=True)]
    pooled = torch.cat(train)
    mean, std = pooled.mean(0), pooled.std(0).clamp_min(1e-8)
    return DSRData(
        train=tuple((s - mean) / std for s in train),
        test=tuple((s[c:] - mean) / std for s, c in zip(series, cut, strict=True)),
    )


@functools.lru_cache(maxsize=4)
def load_data(key: DataKey) -> DSRData:
    """The data for `key`, built once per process; raises `ConfigError` for a bad `.npz`."""
    if key.data_path is not None:
        return load_npz_data(key)
    return make_lorenz_data(key)
