"""The preview plot: a PNG of every group's curve, epoch axis, frozen stretches as a track."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from tests.lr.helpers import make_model
from trainables.lr.plan import build_lr_plan
from trainables.lr.preview import preview_config
from trainables.lr.preview_plot import plot_preview

LEARNING_RATE = {
    "encoder": {"lr": 1e-3, "freeze_after": 6},
    "decoder": {"lr": 3e-3},
    "dsr": {"shared": {"lr": 2e-3}, "subjects": {"lr": 2e-2}},
}


def _pixels(path: Path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path)


def _colours(image: np.ndarray) -> int:
    return len(np.unique(image.reshape(-1, image.shape[-1]), axis=0))


def test_plot_of_a_plan_preview_has_a_frozen_track(tmp_path: Path) -> None:
    config = {
        "learning_rate": LEARNING_RATE,
        "lr_scheduling": {"name": "Cosine", "hyperparameters": {"warmup": 0.2}},
    }
    frame = build_lr_plan(make_model(), config, n_epochs=12).preview()
    out = plot_preview(frame, tmp_path / "plots" / "lr.png", title="preview")
    assert out == tmp_path / "plots" / "lr.png"
    image = _pixels(out)
    # 9 x 4.8 inches at 100 dpi, plus a quarter inch per frozen group (encoder.shared/subjects)
    assert image.shape[:2] == (530, 900)
    assert _colours(image) > 20  # curves, not blank
    frame.attrs = {}
    plain = _pixels(plot_preview(frame, tmp_path / "plain.png"))
    assert plain.shape[:2] == (480, 900)  # no frozen epochs known: no track


def test_per_step_preview_is_drawn_against_fractional_epochs(tmp_path: Path) -> None:
    config = {
        "learning_rate": LEARNING_RATE,
        "lr_scheduling": {"name": "Noam", "hyperparameters": {"n_warmup_steps": 10}},
    }
    frame = preview_config(config, n_epochs=8, steps_per_epoch=25)
    image = _pixels(plot_preview(frame, tmp_path / "steps.png"))
    assert image.shape[:2] == (530, 900) and _colours(image) > 20
    by_epoch = frame.groupby("epoch").first()
    coarse = _pixels(plot_preview(by_epoch, tmp_path / "epochs.png"))
    assert not np.array_equal(image[:480], coarse[:480])  # the warmup within epoch 0 shows


def test_plot_takes_an_explicit_x_column_and_column_subset(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"step": range(5), "a": [0.0, 0.1, 0.2, 0.2, 0.1], "b": [1.0, 1.0, 0.5, 0.5, 0.25]}
    )
    blank = plot_preview(frame, tmp_path / "none.png", columns=[])
    one = plot_preview(frame, tmp_path / "a.png", columns=["a"], log_y=False)
    both = plot_preview(frame, tmp_path / "ab.png")
    assert not np.array_equal(_pixels(blank), _pixels(one))
    assert not np.array_equal(_pixels(one), _pixels(both))


def test_plot_names_a_missing_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 0.5]})
    with pytest.raises(KeyError, match=r"no column \['b'\]"):
        plot_preview(frame, tmp_path / "x.png", columns=["b"])
