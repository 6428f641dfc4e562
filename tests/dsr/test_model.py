"""HierarchicalDSR: the five groups, subject parameters from vectors, the PLRNN step."""

from __future__ import annotations

import torch

from trainables.dsr.model import HierarchicalDSR
from trainables.lr import SEED_GROUPS


def test_every_parameter_in_exactly_one_group() -> None:
    model = HierarchicalDSR(n_subjects=3, obs_dim=5, latent_dim=4, hidden_dim=6, subject_dim=2)
    groups = model.lr_groups()
    assert tuple(groups) == tuple(SEED_GROUPS)
    ids = [id(p) for params in groups.values() for p in params]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    assert all(groups.values())


def test_a_bias_initialized_in_range() -> None:
    model = HierarchicalDSR(8, 5, latent_dim=64)
    a = model.dsr.bias["A"]
    assert a.min() >= 0.9 and a.max() <= 1.0


def test_subject_params_are_bias_plus_projection_of_vector() -> None:
    torch.manual_seed(0)
    model = HierarchicalDSR(n_subjects=3, obs_dim=5, latent_dim=4, hidden_dim=6, subject_dim=2)
    dsr = model.dsr
    params = dsr.subject_params(torch.tensor([2, 0]))
    v = dsr.subject_vectors[2]
    expected_w1 = (dsr.bias["W1"] + dsr.projection["W1"] @ v).view(4, 6)
    torch.testing.assert_close(params["W1"][0], expected_w1, rtol=1e-6, atol=1e-7)
    expected_a = dsr.bias["A"] + dsr.projection["A"] @ dsr.subject_vectors[0]
    torch.testing.assert_close(params["A"][1], expected_a)


def test_step_is_the_shallow_plrnn() -> None:
    torch.manual_seed(1)
    model = HierarchicalDSR(n_subjects=2, obs_dim=3, latent_dim=4, hidden_dim=5, subject_dim=2)
    subjects = torch.tensor([1, 0])
    params = model.dsr.subject_params(subjects)
    z = torch.randn(2, 4)
    out = model.dsr.step(z, params)
    for b in range(2):
        p = {k: v[b] for k, v in params.items()}
        expected = p["A"] * z[b] + p["W1"] @ torch.relu(p["W2"] @ z[b] + p["h2"]) + p["h1"]
        torch.testing.assert_close(out[b], expected)


def test_encoder_uses_subject_offset_and_scale() -> None:
    model = HierarchicalDSR(n_subjects=2, obs_dim=3, latent_dim=4)
    with torch.no_grad():
        model.encoder.offset[1] = torch.tensor([1.0, 2.0, 3.0])
        model.encoder.log_scale[1] = torch.log(torch.tensor([2.0, 2.0, 2.0]))
    x = torch.tensor([[3.0, 4.0, 5.0]])
    expected = model.encoder.map(torch.tensor([[1.0, 1.0, 1.0]]))
    torch.testing.assert_close(model.encode(x, torch.tensor([1])), expected)


def test_generate_shape_and_first_step() -> None:
    model = HierarchicalDSR(n_subjects=2, obs_dim=5)
    x0, subjects = torch.randn(2, 5), torch.tensor([0, 1])
    out = model.generate(x0, subjects, 7)
    assert out.shape == (2, 7, 5)
    z1 = model.dsr.step(model.encode(x0, subjects), model.dsr.subject_params(subjects))
    torch.testing.assert_close(out[:, 0], model.decode(z1))
