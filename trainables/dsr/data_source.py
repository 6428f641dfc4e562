"""`DataKey` (the settings that decide the DSR data) and what they decide without building it.

A config's data is checked before Ray starts, by a driver that never trains: a user's `.npz` is
read and checked with numpy only (shapes, lengths, values), and the series lengths the training
windows need come without building the data. `trainables.dsr.data.load_data` builds the data
itself, as torch tensors, in the worker.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainables.lr.errors import ConfigError, Problem


@dataclass(frozen=True)
class DataKey:
    """The settings that decide the data (the cache key)."""

    n_subjects: int = 8
    train_steps: int = 1000
    test_steps: int = 3000
    data_seed: int = 0
    data_path: str | None = None
    test_fraction: float = 0.25


def train_length(n_steps: int, test_fraction: float) -> int:
    """The time steps of a series of `n_steps` that train: the last `test_fraction` tests."""
    return n_steps - int(round(n_steps * test_fraction))


def _npz_arrays(path: Path) -> tuple[list[str], list[np.ndarray]]:
    if not path.is_file():
        fix = None if path.is_absolute() else "give an absolute path: Ray trials run elsewhere"
        raise ConfigError([Problem("data_path", f"is '{path}', but no such file exists", fix)])
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = sorted(npz.files)
            return names, [np.asarray(npz[name]) for name in names]
    except (OSError, ValueError) as error:
        msg = f"is '{path}', but it is not a readable .npz file ({error})"
        raise ConfigError([Problem("data_path", msg, "save it with numpy.savez")]) from error


def npz_series(key: DataKey) -> list[np.ndarray]:
    """The user's series, one (time x features) array per subject in name order, checked.

    Raises `ConfigError` naming every bad array: not 2-D, non-numeric or non-finite values, too
    short for a training and a test part, or features differing between subjects.
    """
    path = Path(str(key.data_path)).expanduser()
    names, arrays = _npz_arrays(path)
    problems = []
    if not arrays:
        problems.append(Problem("data_path", f"'{path}' holds no arrays", "save one per subject"))
    n_features = {a.shape[1] for a in arrays if a.ndim == 2}
    for name, array in zip(names, arrays, strict=True):
        where = f"data_path['{name}']"
        n_test = int(round(array.shape[0] * key.test_fraction)) if array.ndim else 0
        if array.ndim != 2:
            shape = f"has shape {array.shape}, but each subject must be a 2-D (time x features)"
            problems.append(Problem(where, shape + " array", "save one 2-D array per subject"))
        elif not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
            problems.append(Problem(where, "holds non-numeric or non-finite values"))
        elif min(array.shape[0] - n_test, n_test) < 2:
            msg = f"has {array.shape[0]} time steps, too few for training and test parts"
            problems.append(Problem(where, msg, "give at least 2 steps to each part"))
    if len(n_features) > 1:
        msg = f"arrays have different numbers of features {sorted(n_features)}"
        problems.append(Problem("data_path", msg, "give every subject the same features"))
    if problems:
        raise ConfigError(problems)
    return arrays


@functools.lru_cache(maxsize=4)
def series_lengths(key: DataKey) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Each subject's training and test series lengths; raises `ConfigError` for a bad `.npz`.

    The synthetic data has `train_steps` and `test_steps` for each of `n_subjects`; a user's
    `.npz` is read (once per process and key) and checked, as `npz_series` does.
    """
    if key.data_path is None:
        return (key.train_steps,) * key.n_subjects, (key.test_steps,) * key.n_subjects
    steps = [array.shape[0] for array in npz_series(key)]
    train = tuple(train_length(n, key.test_fraction) for n in steps)
    return train, tuple(n - t for n, t in zip(steps, train, strict=True))
