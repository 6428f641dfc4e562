"""The training loop: it learns, reports every key, fails cleanly, and resumes exactly."""

from __future__ import annotations

import io
import math

import pytest
import torch

from tests.interruptions import KilledAfter, RunKilled
from trainables.dsr import TrainingDiverged, train_dsr
from trainables.dsr.metrics import D_STSP_CAP
from trainables.dsr.training import windows_per_subject
from trainables.lr import SEED_GROUPS
from trainables.reporting import MemoryReporter

LR_KEYS = [f"lr/{g.replace('.', '/')}" for g in SEED_GROUPS]


def test_short_run_lowers_prediction_error(small_config) -> None:
    small_config["n_epochs"] = 8
    reports = train_dsr(small_config)
    errors = [r["pred_error"] for r in reports]
    assert errors[-1] < 0.7 * errors[0], errors
    assert reports[-1]["train_loss"] < 0.5 * reports[0]["train_loss"]


def test_reports_every_key_every_epoch(small_config) -> None:
    reports = train_dsr(small_config)
    assert [r["epoch"] for r in reports] == list(range(1, 7))
    expected = {"epoch", "train_loss", "alpha", "pred_error", "d_stsp", "d_h", "score", *LR_KEYS}
    for r in reports:
        assert set(r) == expected
        assert all(isinstance(v, int | float) and math.isfinite(v) for v in r.values())
        assert r["score"] == pytest.approx(r["pred_error"] + r["d_stsp"] / D_STSP_CAP + r["d_h"])
    # the default rates: every group 1e-2, DSR subject vectors 10 x 1e-2
    assert reports[0]["lr/dsr/subjects"] == pytest.approx(0.1)
    assert reports[0]["lr/encoder/subjects"] == pytest.approx(0.01)


def test_long_term_metrics_carried_between_eval_epochs(small_config) -> None:
    small_config.update(n_epochs=5, eval_every=3)
    reports = train_dsr(small_config)
    pairs = [(r["d_stsp"], r["d_h"]) for r in reports]
    # evaluated at epochs 1, 3 and 5 (the last); carried at 2 and 4
    assert pairs[1] == pairs[0] and pairs[3] == pairs[2]
    assert pairs[2] != pairs[0] and pairs[4] != pairs[2]


def test_lr_schedule_reaches_the_reports(small_config) -> None:
    small_config["lr_scheduling"] = {
        "name": "MultiStepLR",
        "hyperparameters": {"gamma": 0.1, "milestones": [0.5]},
    }
    reports = train_dsr(small_config)
    lrs = [r["lr/decoder/shared"] for r in reports]
    assert lrs == pytest.approx([1e-2] * 3 + [1e-3] * 3, rel=1e-12)


def test_alpha_schedule_multiplies_value(small_config) -> None:
    small_config["alpha"] = {
        "initial": 0.4,
        "name": "StepLR",
        "hyperparameters": {"step_size": 2, "gamma": 0.5},
    }
    reports = train_dsr(small_config)
    assert [r["alpha"] for r in reports] == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1, 0.1])


def test_non_finite_loss_raises_and_stops_reporting(small_config) -> None:
    small_config["grad_clip"] = None
    small_config["lr_scheduling"] = {"name": "ExponentialLR", "hyperparameters": {"gamma": 1e5}}
    reporter = MemoryReporter()
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 2 \(batch \d+ of"):
        train_dsr(small_config, reporter)
    assert [r["epoch"] for r in reporter.reports] == [1]


def test_windows_per_epoch_fixed() -> None:
    assert windows_per_subject([200, 23, 5], 11) == [17, 1, 1]


def test_checkpoint_loads_with_weights_only(small_config) -> None:
    reporter = MemoryReporter()
    train_dsr(small_config, reporter)
    buffer = io.BytesIO()
    torch.save(reporter.checkpoint, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert state["epoch"] == 6 and set(state) >= {"model", "plan", "generator", "alpha_schedule"}


@pytest.mark.parametrize("stop_at", [3, 4])
def test_resume_reproduces_uninterrupted_run_exactly(small_config, stop_at: int) -> None:
    small_config.update(
        n_epochs=7,
        lr_scheduling={
            "name": "ReduceLROnPlateau",
            "hyperparameters": {"patience": 0, "metric": "pred_error", "factor": 0.5},
        },
    )
    full = train_dsr(small_config)
    lrs = [r["lr/dsr/shared"] for r in full]
    assert len(set(lrs)) > 1 and lrs[0] == 1e-2  # the plateau rule's state matters on resume
    first = KilledAfter(stop_at)
    with pytest.raises(RunKilled):
        train_dsr(small_config, first)
    # the last checkpoint is from epoch 2 (checkpoint_every 2) or 4; resume from it
    resumed = MemoryReporter(first.checkpoint)
    rest = train_dsr(small_config, resumed)
    start = first.checkpoint["epoch"]
    assert start == 2 * (stop_at // 2)
    assert rest == full[start:]


def test_resume_from_final_checkpoint_reports_nothing(small_config) -> None:
    reporter = MemoryReporter()
    train_dsr(small_config, reporter)
    assert train_dsr(small_config, MemoryReporter(reporter.checkpoint)) == []


def test_same_seed_same_run_other_seed_other_run(small_config) -> None:
    small_config["n_epochs"] = 2
    a = train_dsr(small_config)
    torch.manual_seed(123)  # the caller's global RNG plays no part
    b = train_dsr(small_config)
    c = train_dsr({**small_config, "seed": 1})
    assert a == b
    assert a[-1]["train_loss"] != c[-1]["train_loss"]


def test_frozen_groups_stay_bit_identical(small_config) -> None:
    leaf = {"lr": 1e-2, "freeze_after": 2}
    small_config.update(
        n_epochs=4,
        checkpoint_every=1,
        learning_rate={
            "encoder": leaf,
            "decoder": leaf,
            "dsr": {"shared": leaf, "subjects": {"lr": 1e-1, "freeze_after": 3}},
        },
    )

    class _Keep(MemoryReporter):
        def __init__(self) -> None:
            super().__init__()
            self.states: list[dict] = []

        def report(self, metrics, checkpoint=None) -> None:
            super().report(metrics, checkpoint)
            self.states.append(self.load_checkpoint()["model"])

    reporter = _Keep()
    reports = train_dsr(small_config, reporter)
    assert [r["lr/decoder/shared"] for r in reports] == [1e-2, 1e-2, 0.0, 0.0]
    assert [r["lr/dsr/subjects"] for r in reports] == [1e-1, 1e-1, 1e-1, 0.0]
    after_2, after_3, after_4 = reporter.states[1:]
    for name, value in after_4.items():
        assert torch.equal(value, after_3[name]), name  # everything frozen in epoch 4
        if name != "dsr.subject_vectors":
            assert torch.equal(value, after_2[name]), name
    assert not torch.equal(after_3["dsr.subject_vectors"], after_2["dsr.subject_vectors"])
    assert all(math.isfinite(r["train_loss"]) for r in reports)
