"""DSR test fixtures: a small config that trains in well under a second per epoch, float64."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

SMALL: dict[str, Any] = {
    "n_subjects": 2,
    "train_steps": 200,
    "test_steps": 300,
    "latent_dim": 8,
    "hidden_dim": 16,
    "seq_len": 10,
    "batch_size": 8,
    "n_epochs": 6,
    "eval_every": 2,
    "checkpoint_every": 2,
    "device": "cpu",
}


@pytest.fixture
def small_config() -> dict[str, Any]:
    """A fresh copy of the small config with a working learning rate."""
    return {"learning_rate": 1e-2, **SMALL}


@pytest.fixture
def float64() -> Iterator[None]:
    """float64 as the default dtype for one test, restored afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
