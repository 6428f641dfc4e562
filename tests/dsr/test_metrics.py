"""D_stsp, D_H and the prediction error against known cases."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainables.dsr.data import DataKey, load_data
from trainables.dsr.metrics import (
    D_H_CAP,
    D_STSP_CAP,
    PRED_ERROR_CAP,
    hellinger_distance,
    prediction_error,
    state_space_divergence,
)
from trainables.dsr.model import HierarchicalDSR


@pytest.fixture(scope="module")
def lorenz() -> torch.Tensor:
    return load_data(DataKey()).test[0]


def test_d_stsp_of_data_against_itself_is_zero(lorenz) -> None:
    assert state_space_divergence(lorenz, lorenz) == 0.0


def test_d_stsp_same_attractor_small_noise_large(lorenz) -> None:
    halves = state_space_divergence(lorenz[:1500], lorenz[1500:])
    noise = torch.randn(3000, 5, generator=torch.Generator().manual_seed(0))
    matched = noise * lorenz.std(0) + lorenz.mean(0)
    against_noise = state_space_divergence(lorenz, matched)
    assert halves < 0.1
    assert against_noise > 1.5
    assert against_noise > 30 * halves


def test_d_stsp_closed_form_for_two_single_points() -> None:
    # one component each, unit std in every feature after standardizing with the true series:
    # KL of two isotropic Gaussians = |mu1 - mu2|^2 / (2 sigma^2), sampled by Monte Carlo
    # (every 250th point is kept: all at (0, 0), the generated ones all at (0.1, 0))
    true = torch.tensor([[0.0, 0.0], [2.0, 2.0]]).repeat(500, 1)
    gen = true + torch.tensor([0.1, 0.0])
    sigma = 0.5
    value = state_space_divergence(true, gen, sigma=sigma, samples_per_point=5000, max_points=4)
    std = true.std(0)
    shift = (0.1 / std[0]) ** 2
    # antithetic pairs cancel the linear log-ratio of two Gaussians: all but exact
    assert value == pytest.approx(float(shift / (2 * sigma**2)), rel=1e-4)


def test_d_stsp_capped_when_generation_diverges(lorenz) -> None:
    assert state_space_divergence(lorenz, torch.full_like(lorenz, math.inf)) == D_STSP_CAP
    assert state_space_divergence(lorenz, lorenz * 1e4) == D_STSP_CAP


def test_d_h_identical_zero_halves_small_noise_large(lorenz) -> None:
    assert hellinger_distance(lorenz, lorenz) == pytest.approx(0.0, abs=1e-6)
    noise = torch.randn(3000, 5, generator=torch.Generator().manual_seed(1))
    assert hellinger_distance(lorenz[:1500], lorenz[1500:]) < 0.1
    assert hellinger_distance(lorenz, noise) > 0.6


def test_d_h_capped_when_generation_diverges(lorenz) -> None:
    assert hellinger_distance(lorenz, torch.full_like(lorenz, math.nan)) == D_H_CAP


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(1e-3, 1e3),
    period=st.floats(2.5, 200.0),
)
def test_d_h_in_unit_interval(seed: int, scale: float, period: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(400.0)
    true = torch.stack([torch.sin(2 * math.pi * t / period), torch.randn(400, generator=gen)], 1)
    other = scale * torch.randn(400, 2, generator=gen)
    value = hellinger_distance(true, other)
    assert 0.0 <= value <= 1.0


def test_d_h_of_different_sinusoids_near_one() -> None:
    t = torch.arange(2000.0)[:, None]
    assert hellinger_distance(torch.sin(t / 3), torch.sin(t / 50)) > 0.95


def test_prediction_error_is_normalized_and_capped() -> None:
    torch.manual_seed(0)
    data = load_data(DataKey(n_subjects=2, train_steps=100, test_steps=200))
    model = HierarchicalDSR(2, 5)
    with torch.no_grad():
        # a model that predicts the mean of each series exactly: W1 = 0, A = 0, h1 chosen so the
        # decoded state is the mean (decoder weight 0, bias = mean) -> normalized MSE ~ 1
        for p in model.parameters():
            p.zero_()
        model.decoder.bias.copy_(data.test[0].mean(0))
    value = prediction_error(model, data.test[:1], n_steps=5, stride=1)
    test = data.test[0][5:]
    expected = ((test - data.test[0].mean(0)) ** 2).mean(0) / data.test[0].var(0)
    assert value == pytest.approx(float(expected.mean()), rel=1e-5)
    with torch.no_grad():
        model.decoder.bias.fill_(1e6)
    assert prediction_error(model, data.test[:1], n_steps=5) == PRED_ERROR_CAP
