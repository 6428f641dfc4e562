"""Series lengths and `.npz` checks without building the data agree with the built data."""

from __future__ import annotations

import numpy as np
import pytest

from trainables.dsr.data import load_data
from trainables.dsr.data_source import DataKey, series_lengths
from trainables.lr.errors import ConfigError


def _lengths(key: DataKey) -> tuple[tuple[int, ...], tuple[int, ...]]:
    data = load_data(key)
    return tuple(len(s) for s in data.train), tuple(len(s) for s in data.test)


@pytest.mark.parametrize("key", [DataKey(), DataKey(n_subjects=3, train_steps=7, test_steps=2)])
def test_synthetic_lengths_are_those_of_the_data(key: DataKey) -> None:
    assert series_lengths(key) == _lengths(key)


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.7])
def test_npz_lengths_are_those_of_the_data(tmp_path, fraction: float) -> None:
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, **{f"s{n:02d}": rng.normal(size=(n, 3)) for n in (20, 21, 31, 57)})
    key = DataKey(data_path=str(path), test_fraction=fraction)
    assert series_lengths(key) == _lengths(key)
    train, test = series_lengths(key)
    assert [a + b for a, b in zip(train, test, strict=True)] == [20, 21, 31, 57]


def test_a_bad_npz_gives_the_problems_loading_it_gives(tmp_path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, flat=np.zeros(50), short=np.zeros((3, 2)), wide=np.zeros((20, 4)))
    key = DataKey(data_path=str(path))
    with pytest.raises(ConfigError) as checked:
        series_lengths(key)
    with pytest.raises(ConfigError) as loaded:
        load_data(key)
    assert checked.value.problems == loaded.value.problems
    assert {p.path for p in checked.value.problems} == {
        "data_path['flat']",
        "data_path['short']",
        "data_path",
    }
