"""scikit-learn's 8x8 digits (shipped with it, no download), split for transfer learning.

The samples are shuffled once (`data_seed`): half of them pretrain the network; of the other half
a small part (`train_fraction`) fine-tunes it with a new head and the rest validates. The small
fine-tuning set is what makes layer-wise rates, decay and unfreezing matter: the pretrained body
must be adapted without being overwritten.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

N_FEATURES = 64
N_CLASSES = 10


@dataclass(frozen=True)
class Split:
    """Inputs (n, 64) scaled to [0, 1] and integer labels (n,)."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class DigitsTask:
    """The pretraining set and the fine-tuning train and validation sets."""

    pretrain: Split
    train: Split
    val: Split


@functools.lru_cache(maxsize=4)
def load_digits_task(train_fraction: float = 0.1, data_seed: int = 0) -> DigitsTask:
    """The three splits; cached per process, so every trial of a worker shares them."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(data_seed))
    half = len(order) // 2
    n_train = max(1, int(round(train_fraction * (len(order) - half))))
    parts = order[:half], order[half : half + n_train], order[half + n_train :]
    return DigitsTask(*(Split(x[part], y[part]) for part in parts))
