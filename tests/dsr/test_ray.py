"""The `dsr` trainable on a real local Ray: the plain loop's numbers, exact resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from ray import tune

from trainables.dsr import dsr_trainable, train_dsr
from trainables.reporting import CHECKPOINT_FILE, RayReporter

pytestmark = pytest.mark.slow


class _FailOnce(RayReporter):
    """A RayReporter that kills the first attempt right after `epoch` was reported."""

    def __init__(self, epoch: int, marker: Path) -> None:
        self.epoch, self.marker = epoch, marker

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None:
        super().report(metrics, checkpoint)
        if metrics["epoch"] == self.epoch and not self.marker.exists():
            self.marker.write_text("failed once")
            raise RuntimeError("injected worker failure")


def _flaky_trainable(config: dict[str, Any]) -> None:
    torch.set_num_threads(1)
    marker = Path(config.pop("marker"))
    train_dsr(config, _FailOnce(3, marker), gpu_allowed=False)


def _run(trainable, config: dict[str, Any], storage: Path, max_failures: int = 0, errors: int = 0):
    tuner = tune.Tuner(
        trainable,
        param_space=config,
        tune_config=tune.TuneConfig(metric="score", mode="min", num_samples=1),
        run_config=tune.RunConfig(
            storage_path=str(storage),
            failure_config=tune.FailureConfig(max_failures=max_failures),
            verbose=0,
        ),
    )
    results = tuner.fit()
    assert results.num_errors == errors, results.errors
    return results[0]


def _metrics(frame, keys) -> list[dict[str, float]]:
    rows = frame.drop_duplicates("epoch", keep="last").sort_values("epoch")
    return rows[list(keys)].to_dict("records")


def test_ray_trainable_matches_plain_loop(ray_local, small_config, tmp_path) -> None:
    small_config["n_epochs"] = 4
    plain = train_dsr(small_config)
    result = _run(dsr_trainable, small_config, tmp_path / "ray")
    assert _metrics(result.metrics_dataframe, plain[0]) == plain
    with result.checkpoint.as_directory() as folder:
        state = torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=True)
    assert state["epoch"] == 4


def test_ray_trial_resumes_exactly_after_a_failure(ray_local, small_config, tmp_path) -> None:
    small_config["n_epochs"] = 5
    plain = train_dsr(small_config)
    marker = tmp_path / "failed"
    config = {**small_config, "marker": str(marker)}
    result = _run(_flaky_trainable, config, tmp_path / "ray", max_failures=1)
    assert marker.exists()  # the first attempt did fail after epoch 3
    frame = result.metrics_dataframe
    # epoch 3 was reported twice: before the failure and again after resuming from epoch 2
    assert list(frame["epoch"]) == [1, 2, 3, 3, 4, 5]
    assert _metrics(frame, plain[0]) == plain


def test_diverged_trial_errors_with_its_epoch(ray_local, small_config, tmp_path) -> None:
    small_config.update(
        grad_clip=None,
        lr_scheduling={"name": "ExponentialLR", "hyperparameters": {"gamma": 1e5}},
    )
    result = _run(dsr_trainable, small_config, tmp_path / "ray", errors=1)
    assert "TrainingDiverged" in repr(result.error)
    assert "loss became nan at epoch 2" in str(result.error)
    assert list(result.metrics_dataframe["epoch"]) == [1]
