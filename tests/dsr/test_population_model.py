"""`population_model`: every member's loss, gradient, generation and prediction error equal the
lone model's, for members with different parameters (float64)."""

from __future__ import annotations

import pytest
import torch

from trainables.dsr import population_model
from trainables.dsr.metrics import prediction_error
from trainables.dsr.model import HierarchicalDSR
from trainables.dsr.training import gtf_loss

K, SUBJECTS, OBS = 4, 3, 3


@pytest.fixture(scope="module")
def members() -> list[HierarchicalDSR]:
    models = []
    for k in range(K):
        torch.manual_seed(k)  # each member its own parameters
        models.append(HierarchicalDSR(SUBJECTS, OBS, latent_dim=5, hidden_dim=7).double())
    return models


def stacked(models: list[HierarchicalDSR]) -> dict[str, torch.Tensor]:
    named = [dict(m.named_parameters()) for m in models]
    return {n: torch.stack([m[n].detach() for m in named]).requires_grad_(True) for n in named[0]}


def series(length: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(length, OBS, generator=gen, dtype=torch.float64).cumsum(0) * 0.1


def test_losses_and_gradients_equal_each_lone_model(members) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 9, OBS, generator=gen, dtype=torch.float64)
    subjects = torch.tensor([0, 2, 1, 1, 0, 2])
    alphas = torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=torch.float64)
    params = stacked(members)
    losses = population_model.gtf_losses(params, x, subjects, alphas)
    losses.sum().backward()
    for k, model in enumerate(members):
        model.zero_grad()
        lone = gtf_loss(model, x, subjects, float(alphas[k]))
        lone.backward()
        assert losses[k].item() == pytest.approx(lone.item(), rel=1e-14, abs=0)
        for name, p in model.named_parameters():
            torch.testing.assert_close(params[name].grad[k], p.grad, rtol=1e-12, atol=1e-15)


def test_generation_equals_each_lone_model(members) -> None:
    x0 = torch.stack([series(1, s)[0] for s in range(SUBJECTS)])
    subjects = torch.arange(SUBJECTS)
    out = population_model.generate(stacked(members), x0, subjects, 40)
    assert out.shape == (K, SUBJECTS, 40, OBS)
    for k, model in enumerate(members):
        torch.testing.assert_close(out[k], model.generate(x0, subjects, 40), rtol=1e-12, atol=0)


def test_prediction_errors_equal_each_lone_model(members) -> None:
    test = tuple(series(120, 10 + s) for s in range(SUBJECTS))
    errors = population_model.prediction_errors(stacked(members), test, n_steps=5)
    lone = [prediction_error(model, test, 5) for model in members]
    assert errors.tolist() == pytest.approx(lone, rel=1e-12, abs=0)
    assert len(set(lone)) == K  # the members differ, so equality is per member
