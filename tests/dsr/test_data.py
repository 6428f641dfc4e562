"""Data: shapes, determinism per seed, the Lorenz vector field, user `.npz` files, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainables.dsr.data import DataKey, load_data, lorenz_rhs, make_lorenz_data, simulate_lorenz
from trainables.lr.errors import ConfigError


def test_default_shapes() -> None:
    data = load_data(DataKey())
    assert data.n_subjects == 8 and data.obs_dim == 5
    assert all(s.shape == (1000, 5) and s.dtype == torch.float32 for s in data.train)
    assert all(s.shape == (3000, 5) for s in data.test)
    assert all(torch.isfinite(s).all() for s in data.train + data.test)


def test_same_seed_same_data_other_seed_other_data() -> None:
    key = DataKey(n_subjects=3, train_steps=50, test_steps=60, data_seed=4)
    a, b = make_lorenz_data(key), make_lorenz_data(key)
    other = make_lorenz_data(DataKey(n_subjects=3, train_steps=50, test_steps=60, data_seed=5))
    for x, y, z in zip(a.train + a.test, b.train + b.test, other.train + other.test, strict=True):
        assert torch.equal(x, y)
        assert not torch.allclose(x, z)


def test_test_part_continues_the_training_part() -> None:
    short = make_lorenz_data(DataKey(n_subjects=2, train_steps=40, test_steps=10))
    # the same seed draws the same initial states, mixing and gains; only the noise is new, so
    # the clean signal continues: consecutive steps are close (dt 0.02), not a jump
    for train, test in zip(short.train, short.test, strict=True):
        jump = (test[0] - train[-1]).abs().max()
        typical = (train[1:] - train[:-1]).abs().max()
        assert jump < 3 * typical


def test_lorenz_vector_field_closed_form() -> None:
    state = np.array([[1.0, 2.0, 3.0]])
    rhs = lorenz_rhs(state, np.array([28.0]))
    np.testing.assert_allclose(rhs, [[10 * (2 - 1), 1 * (28 - 3) - 2, 1 * 2 - 8 / 3 * 3]])


def test_subjects_differ_by_rho() -> None:
    rng = np.random.default_rng(0)
    traj = simulate_lorenz(np.array([24.0, 44.0]), 2000, rng)
    # the attractor's mean height grows with rho (about rho - 1 for these values)
    z_mean = traj[:, :, 2].mean(axis=1)
    assert z_mean[1] - z_mean[0] > 15
    assert np.abs(traj).max() < 100


def test_cached_per_process() -> None:
    key = DataKey(n_subjects=2, train_steps=30, test_steps=30)
    assert load_data(key) is load_data(key)


def _save(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def test_npz_is_split_in_time_and_standardized(tmp_path) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(3, 2, size=(40, 4)), rng.normal(-1, 1, size=(80, 4))
    path = _save(tmp_path / "d.npz", b_subject=b, a_subject=a)
    data = load_data(DataKey(data_path=path, test_fraction=0.25))
    assert [len(s) for s in data.train] == [30, 60] and [len(s) for s in data.test] == [10, 20]
    pooled = np.concatenate([a[:30], b[:60]])
    mean, std = pooled.mean(0), pooled.std(0, ddof=1)
    np.testing.assert_allclose(data.train[0].numpy(), (a[:30] - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.test[1].numpy(), (b[60:] - mean) / std, rtol=1e-5, atol=1e-5)


def test_npz_bad_shapes_all_reported(tmp_path) -> None:
    path = _save(
        tmp_path / "bad.npz",
        flat=np.zeros(50),
        short=np.zeros((3, 2)),  # 1 test step at test_fraction 0.25
        nan=np.full((50, 2), np.nan),
        wide=np.zeros((50, 3)),
    )
    with pytest.raises(ConfigError) as info:
        load_data(DataKey(data_path=path))
    text = str(info.value)
    assert "data_path['flat'] has shape (50,), but each subject must be a 2-D" in text
    assert "data_path['short'] has 3 time steps" in text
    assert "data_path['nan']: holds non-numeric or non-finite values" in text
    assert "different numbers of features [2, 3]" in text
    assert len(info.value.problems) == 4


def test_npz_missing_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file exists"):
        load_data(DataKey(data_path=str(tmp_path / "none.npz")))


def test_npz_not_an_npz(tmp_path) -> None:
    path = tmp_path / "junk.npz"
    path.write_text("not numpy")
    with pytest.raises(ConfigError, match="not a readable .npz file"):
        load_data(DataKey(data_path=str(path)))
