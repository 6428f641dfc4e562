"""Checkpoints of `epoch_reporter` carry every generator and the loop's own state.

A loop that shuffles with numpy, draws dropout masks with `random` and anneals a teacher-forcing
alpha resumes from a checkpoint with exactly the numbers of the uninterrupted run.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from tests.interruptions import KilledAfter, RunKilled
from trainables.lr import ConfigError, build_lr_plan
from trainables.reporting import EpochReporter, MemoryReporter, weights_only_copy
from trainables.resume_state import rng_state, set_rng_state, state_problems

N_EPOCHS = 6


def draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_rng_state_puts_back_every_generator_after_a_weights_only_round_trip() -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.standard_normal()  # numpy now caches a gaussian: part of its state
    saved = weights_only_copy({"rng": rng_state()})["rng"]
    first = [draws() for _ in range(3)], float(np.random.standard_normal())
    set_rng_state(saved)
    again = [draws() for _ in range(3)], float(np.random.standard_normal())
    assert first == again


def lab_loop(reporter: MemoryReporter, checkpoint_every: int = 2) -> None:
    """Shuffles with numpy, drops samples with `random`, anneals alpha in `state`."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.randn(4, 1)
    model = nn.Linear(4, 1)
    plan = build_lr_plan(model, {"learning_rate": 5e-2}, n_epochs=N_EPOCHS)
    helper = EpochReporter(model, plan, reporter, checkpoint_every=checkpoint_every)
    helper.state.update({"alpha": 1.0, "history": [], "note": "start"})
    for _ in helper.epochs():
        alpha = helper.state["alpha"]
        for batch in np.array_split(np.random.permutation(len(x)), 4):
            kept = [int(i) for i in batch if random.random() > 0.2]
            loss = alpha * nn.functional.mse_loss(model(x[kept]), y[kept])
            plan.optimizer.zero_grad()
            loss.backward()
            plan.optimizer.step()
        plan.step_epoch(train_loss=loss.item())
        helper.state["alpha"] = alpha * 0.8
        helper.state["history"].append(loss.detach())
        helper.report({"loss": loss.item(), "alpha": alpha})


def test_a_loop_shuffling_with_numpy_resumes_bit_for_bit_with_its_state() -> None:
    whole = MemoryReporter()
    lab_loop(whole)
    broken = KilledAfter(3)
    with pytest.raises(RunKilled):
        lab_loop(broken)  # checkpoint after epoch 2, killed after epoch 3
    resumed = MemoryReporter(broken.checkpoint)
    lab_loop(resumed)
    assert [r["epoch"] for r in resumed.reports] == [3, 4, 5, 6]
    assert resumed.reports == whole.reports[2:]  # exact floats, the alpha included
    assert whole.reports[2]["alpha"] == 0.8**2
    state = resumed.checkpoint["state"]
    assert len(state["history"]) == N_EPOCHS and state["note"] == "start"


def test_without_the_numpy_state_the_resumed_run_differs() -> None:
    """The loop above does depend on numpy's generator (so the test above can fail)."""
    broken = KilledAfter(3)
    with pytest.raises(RunKilled):
        lab_loop(broken)
    checkpoint = broken.checkpoint
    checkpoint["rng"] = checkpoint["rng"]["torch"]  # only torch's, as checkpoints had before
    resumed, whole = MemoryReporter(checkpoint), MemoryReporter()
    lab_loop(resumed)
    lab_loop(whole)
    assert resumed.reports[0]["loss"] != whole.reports[2]["loss"]


def test_state_a_checkpoint_cannot_hold_is_named_before_it_is_saved() -> None:
    state = {
        "ok": [1, 2.5, "a", None, True, (torch.zeros(2),), {"k": 1}],
        "array": np.zeros(3),
        "scalar": np.float64(0.5),
        "nested": {"f": print},
    }
    problems = [str(p) for p in state_problems(state)]
    assert problems == [
        "state['array'] is a ndarray, which a checkpoint cannot hold: convert it: "
        "torch.from_numpy(array), or .item() for a numpy scalar",
        "state['scalar'] is a float64, which a checkpoint cannot hold: convert it: "
        "torch.from_numpy(array), or .item() for a numpy scalar",
        "state['nested']['f'] is a builtin_function_or_method, which a checkpoint cannot hold: "
        "store tensors, numbers, strings, booleans, None, lists, tuples or dicts",
    ]
    model = nn.Linear(2, 1)
    plan = build_lr_plan(model, {"learning_rate": 1e-3}, n_epochs=1)
    helper = EpochReporter(model, plan, MemoryReporter())
    helper.state["alpha"] = np.float32(0.5)
    with pytest.raises(ConfigError, match=r"checkpoint: state\['alpha'\] is a float32"):
        for _ in helper.epochs():
            plan.step_epoch()
            helper.report({"loss": 1.0})
