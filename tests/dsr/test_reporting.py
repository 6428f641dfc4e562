"""MemoryReporter: independent weights-only copies of checkpoints."""

from __future__ import annotations

import pickle

import pytest
import torch

from trainables.reporting import MemoryReporter


def test_keeps_reports_and_an_independent_last_checkpoint() -> None:
    reporter = MemoryReporter()
    weights = torch.zeros(3)
    reporter.report({"epoch": 1, "score": 2.0}, {"w": weights, "epoch": 1})
    reporter.report({"epoch": 2, "score": 1.0})
    weights += 5  # the live tensor changes after the checkpoint was taken
    assert reporter.reports == [{"epoch": 1, "score": 2.0}, {"epoch": 2, "score": 1.0}]
    loaded = reporter.load_checkpoint()
    assert torch.equal(loaded["w"], torch.zeros(3)) and loaded["epoch"] == 1
    loaded["w"] += 1
    assert torch.equal(reporter.load_checkpoint()["w"], torch.zeros(3))


def test_starts_without_checkpoint() -> None:
    assert MemoryReporter().load_checkpoint() is None


class _Custom:
    pass


def test_refuses_what_weights_only_refuses() -> None:
    with pytest.raises(pickle.UnpicklingError):
        MemoryReporter().report({"epoch": 1}, {"thing": _Custom()})
