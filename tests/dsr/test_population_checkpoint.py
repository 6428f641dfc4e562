"""A fused population checkpoints and resumes exactly: every member's reports, stopped, failed
and frozen members included, equal those of the uninterrupted run."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from tests.dsr.conftest import SMALL
from trainables.dsr.population import MemoryPopulationReporter, train_dsr_population
from trainables.lr.errors import ConfigError

#: the small DSR config with a smaller model and a longer training series
BASE: dict[str, Any] = {**SMALL, "train_steps": 300, "latent_dim": 6, "hidden_dim": 8}
PLATEAU = {
    "name": "ReduceLROnPlateau",
    "hyperparameters": {"metric": "pred_error", "patience": 0, "factor": 0.5},
}
CONFIGS: list[dict[str, Any]] = [
    {"learning_rate": 1e-2, "lr_scheduling": {"name": "Constant"}},
    {"learning_rate": 2e-2},  # stopped after epoch 1, before the checkpoint at epoch 2
    # frozen over the checkpoint: the encoder from epoch 2 on, the DSR model until epoch 4
    {
        "learning_rate": {
            "encoder": {"lr": 1e-2, "freeze_after": 1},
            "dsr": {"lr": 1e-2, "unfreeze_at": 4},
        }
    },
    # the plateau rule's state crosses the checkpoint; AdamW with weight decay
    {
        "learning_rate": [3e-2, 1e-1],
        "lr_scheduling": PLATEAU,
        "optimizer": {"name": "AdamW", "hyperparameters": {"weight_decay": 0.05}},
    },
    {"learning_rate": 3e-2, "alpha": 0.5},  # stopped by the report carrying the checkpoint
    {"learning_rate": 1e4, "grad_clip": None},  # diverges in the first epochs
]
STOP_AT = {1: 1, 4: 2}


class Interrupted(Exception):
    """Raised by `InterruptedAfter` to end a run, as a dying worker would."""


class InterruptedAfter(MemoryPopulationReporter):
    """A MemoryPopulationReporter whose run dies right after reporting `epoch`."""

    def __init__(self, epoch: int, **options: Any) -> None:
        super().__init__(**options)
        self.epoch = epoch

    def report(self, reports: dict, checkpoint: dict | None = None) -> list[int]:
        stop = super().report(reports, checkpoint)
        if len(self.epochs) == self.epoch:
            raise Interrupted
        return stop


class ReportsOnly:
    """A reporter of the first protocol: `report(reports)` only, no checkpoints."""

    def __init__(self, stop_at: dict[int, int]) -> None:
        self.inner = MemoryPopulationReporter(stop_at)

    def report(self, reports: dict) -> list[int]:
        return self.inner.report(reports)


@pytest.fixture
def configs() -> list[dict[str, Any]]:
    return [{**BASE, **config} for config in CONFIGS]


@pytest.mark.parametrize("interrupted_after", [3, 4])
def test_resumed_population_reports_what_the_uninterrupted_run_reports(
    float64: None, configs: list[dict[str, Any]], interrupted_after: int
) -> None:
    """Interrupted after epoch 3 (last checkpoint: epoch 2) or 4 (a checkpoint that very epoch),
    resumed from its last checkpoint: the epochs from there on are the uninterrupted run's,
    bit for bit, and so is the final state of every member (stopped ones kept theirs)."""
    plain = ReportsOnly(STOP_AT)
    whole = train_dsr_population(configs, plain)
    reference = plain.inner.epochs
    failed = [r for r in whole[5] if "failed" in r]
    assert failed and failed[0]["epoch"] < 2  # the diverging member failed before the checkpoint
    assert [len(r) for r in whole[:5]] == [6, 1, 6, 6, 2]
    lrs = [r["lr/encoder/shared"] for r in whole[2]]
    assert lrs[0] > 0 and lrs[1:] == [0.0] * 5  # frozen from epoch 2 on
    assert [r["lr/dsr/shared"] for r in whole[2]][:3] == [0.0] * 3
    assert len({r["lr/encoder/shared"] for r in whole[3]}) > 1  # the plateau rule cut it

    first = InterruptedAfter(interrupted_after, stop_at=STOP_AT)
    with pytest.raises(Interrupted):
        train_dsr_population(configs, first)
    assert first.epochs == reference[:interrupted_after]
    last = first.checkpoints[-1]
    start = last["checkpoint"]["run"]["epoch"]
    assert start == 2 * (interrupted_after // 2)
    assert last["stop"] == ([4] if start == 2 else [])

    resumed = MemoryPopulationReporter(STOP_AT, checkpoint=last)
    rest = train_dsr_population(configs, resumed)
    assert resumed.epochs == reference[start:]  # every key of every member, exactly
    assert [len(r) for r in rest] == [6 - start, 0, 6 - start, 6 - start, 0, 0]
    assert rest[0] == whole[0][start:]

    uninterrupted = MemoryPopulationReporter(STOP_AT)
    train_dsr_population(configs, uninterrupted)
    assert uninterrupted.epochs == reference  # checkpointing changes nothing
    final, final_resumed = uninterrupted.checkpoints[-1], resumed.checkpoints[-1]
    for name, tensor in final["checkpoint"]["run"]["params"].items():
        assert torch.equal(final_resumed["checkpoint"]["run"]["params"][name], tensor), name
    assert final_resumed["checkpoint"]["run"]["stopped"] == [1, 4]


def test_checkpoints_come_every_checkpoint_every_epochs_and_at_the_end(
    configs: list[dict[str, Any]],
) -> None:
    reporter = MemoryPopulationReporter(STOP_AT)
    train_dsr_population([{**c, "checkpoint_every": 4} for c in configs[:2]], reporter)
    assert [c["checkpoint"]["run"]["epoch"] for c in reporter.checkpoints] == [4, 6]
    # resuming from the final checkpoint trains and reports nothing
    again = MemoryPopulationReporter(STOP_AT, checkpoint=reporter.checkpoints[-1])
    assert train_dsr_population(configs[:2], again) == [[], []]
    assert again.epochs == []


def test_a_checkpoint_of_other_member_configs_is_refused(configs: list[dict[str, Any]]) -> None:
    reporter = MemoryPopulationReporter()
    train_dsr_population([{**c, "n_epochs": 2} for c in configs[:3]], reporter)
    other = [{**copy.deepcopy(c), "n_epochs": 2, "checkpoint_every": 1} for c in configs[:3]]
    other[1]["learning_rate"] = 3e-2
    other[2]["learning_rate"]["encoder"]["freeze_after"] = 2  # (checkpoint_every may differ)
    with pytest.raises(ConfigError) as caught:
        train_dsr_population(other, MemoryPopulationReporter(checkpoint=reporter.checkpoints[0]))
    assert [p.path for p in caught.value.problems] == [
        "members[1].learning_rate",
        "members[2].learning_rate.encoder.freeze_after",
    ]
    assert str(caught.value).splitlines()[0] == (
        "checkpoint: members[1].learning_rate is 0.03, but the checkpoint has 0.02: resume with "
        "the member configs the checkpoint was saved with, or start afresh"
    )
    with pytest.raises(ConfigError, match="members are 2 configs, but the checkpoint holds 3"):
        train_dsr_population(
            other[:2], MemoryPopulationReporter(checkpoint=reporter.checkpoints[0])
        )
