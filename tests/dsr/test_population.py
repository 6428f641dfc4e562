"""Fused populations: every member trains exactly as the same config alone."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from trainables.dsr.data import DSRData, load_data
from trainables.dsr.metrics import (
    D_H_CAP,
    D_STSP_CAP,
    hellinger_distance,
    state_space_divergence,
    state_space_divergences,
)
from trainables.dsr.population import (
    MemoryPopulationReporter,
    PopulationRun,
    train_dsr_population,
)
from trainables.dsr.population_metrics import hellinger_distances
from trainables.dsr.settings import settings_of
from trainables.dsr.trainable import train_dsr
from trainables.lr.errors import ConfigError, TunerError
from trainables.reporting import TrainingDiverged

BASE: dict[str, Any] = {
    "n_subjects": 2,
    "train_steps": 200,
    "test_steps": 300,
    "latent_dim": 6,
    "hidden_dim": 8,
    "seq_len": 10,
    "batch_size": 8,
    "n_epochs": 20,
    "eval_every": 5,
    "device": "cpu",
}

CONFIGS: list[dict[str, Any]] = [
    # constant lr, Adam defaults
    {"learning_rate": 1e-2, "lr_scheduling": {"name": "Constant"}},
    # general and subject rates, epoch-wise MultiStepLR
    {
        "learning_rate": [3e-3, 3e-2],
        "lr_scheduling": {
            "name": "MultiStepLR",
            "hyperparameters": {"milestones": [0.25, 0.5], "gamma": 0.3},
        },
    },
    # step-wise cosine, the encoder frozen after 4 epochs, AdamW with weight decay
    {
        "learning_rate": {
            "encoder": {"lr": 1e-2, "freeze_after": 4},
            "decoder": {"lr": 5e-3},
            "dsr": {"shared": {"lr": 2e-2}, "subjects": {"lr": 5e-2}},
        },
        "lr_scheduling": {"name": "Cosine", "hyperparameters": {"unit": "step"}},
        "optimizer": {"name": "AdamW", "hyperparameters": {"weight_decay": 0.05}},
    },
    # plateau on the prediction error, the DSR model frozen until epoch 3, own alpha and clip
    {
        "learning_rate": {"encoder": {"lr": 2e-2}, "dsr": {"lr": 1e-2, "unfreeze_at": 3}},
        "lr_scheduling": {
            "name": "ReduceLROnPlateau",
            "hyperparameters": {"metric": "pred_error", "patience": 0, "factor": 0.5},
        },
        "optimizer": {"hyperparameters": {"weight_decay": 1e-3, "betas": [0.8, 0.99]}},
        "alpha": 0.5,
        "grad_clip": 0.5,
    },
    # a per-group schedule beside the global one, a scheduled alpha, no clipping
    {
        "learning_rate": {
            "encoder": {"lr": 1e-2},
            "decoder": {
                "lr": 1e-2,
                "schedule": {"name": "StepLR", "hyperparameters": {"step_size": 3}},
            },
            "dsr": {"lr": 1e-2},
        },
        "lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.9}},
        "alpha": {"initial": 0.4, "name": "ExponentialLR", "hyperparameters": {"gamma": 0.9}},
        "grad_clip": None,
    },
]


@pytest.fixture
def small_data() -> DSRData:
    return load_data(settings_of(BASE).data_key)


def member(config: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {**BASE, **config, **settings}


def assert_same_reports(lone: list[dict], fused: list[dict], label: str) -> None:
    """Every key of every epoch equal within 1e-5, the failing epoch and key in the message."""
    assert len(fused) == len(lone), label
    for a, b in zip(lone, fused, strict=True):
        assert sorted(a) == sorted(b), label
        for key in a:
            assert b[key] == pytest.approx(a[key], abs=1e-5, rel=0), (label, a["epoch"], key)


def test_population_matches_lone_runs(float64: None) -> None:
    configs = [member(c) for c in CONFIGS]
    fused = train_dsr_population(configs)
    for i, config in enumerate(configs):
        assert_same_reports(train_dsr(config), fused[i], f"member {i}")
    # the configs really differ where the test claims they do
    lrs = [[r["lr/encoder/shared"] for r in reports] for reports in fused]
    assert len(set(lrs[0])) == 1 and lrs[1][5] == pytest.approx(0.3 * lrs[1][0])
    assert lrs[2][4:] == [0.0] * 16 and lrs[2][1] < lrs[2][0]  # frozen after 4, cosine
    dsr = [r["lr/dsr/shared"] for r in fused[3]]
    assert dsr[:3] == [0.0] * 3 and min(dsr[3:]) < max(dsr[3:])  # unfreeze, plateau cut
    losses = [r["train_loss"] for r in fused[0]]
    assert losses[-1] < 0.5 * losses[0]  # it learns


def test_sgd_population_matches_lone_runs(float64: None) -> None:
    sgd = [
        {"momentum": 0.9, "weight_decay": 1e-3},
        {"momentum": 0.8, "nesterov": True},
        {"momentum": 0.9, "dampening": 0.1},
        {},
    ]
    configs = [
        member(
            {"learning_rate": 1e-2 * (i + 1), "optimizer": {"name": "SGD", "hyperparameters": h}},
            n_epochs=6,
        )
        for i, h in enumerate(sgd)
    ]
    configs[2]["learning_rate"] = {
        "encoder": {"lr": 3e-2, "freeze_after": 2},
        "dsr": {"lr": 3e-2, "weight_decay": 1e-2},  # a leaf's own weight decay
    }
    fused = train_dsr_population(configs)
    for i, config in enumerate(configs):
        assert_same_reports(train_dsr(config), fused[i], f"member {i}")


def test_diverging_member_fails_alone(float64: None) -> None:
    configs = [
        member({"learning_rate": 1e-2}, n_epochs=6),
        member({"learning_rate": 1e4}, n_epochs=6, grad_clip=None),
        member({"learning_rate": 2e-2}, n_epochs=6),
    ]
    reporter = MemoryPopulationReporter()
    fused = train_dsr_population(configs, reporter)
    with pytest.raises(TrainingDiverged) as raised:
        train_dsr(configs[1])
    failed = fused[1][-1]
    assert failed == {"epoch": failed["epoch"], "failed": str(raised.value)}
    assert f"at epoch {failed['epoch']} " in failed["failed"]
    assert failed["epoch"] < 6
    # reported once, with its failure, and never again
    seen = [epoch[1] for epoch in reporter.epochs if 1 in epoch]
    assert seen[-1] == failed and all("failed" not in r for r in seen[:-1])
    assert len(reporter.epochs) == 6 and all(1 not in e for e in reporter.epochs[failed["epoch"] :])
    for i in (0, 2):
        assert_same_reports(train_dsr(configs[i]), fused[i], f"member {i}")


def test_stopped_member_keeps_its_parameters(float64: None) -> None:
    configs = [member({"learning_rate": 1e-2 * (i + 1)}, n_epochs=6) for i in range(3)]
    reporter = MemoryPopulationReporter(stop_at={1: 2})
    fused = train_dsr_population(configs, reporter)
    assert [r["epoch"] for r in fused[1]] == [1, 2]
    assert [sorted(e) for e in reporter.epochs] == [[0, 1, 2]] * 2 + [[0, 2]] * 4
    assert_same_reports(train_dsr(configs[1])[:2], fused[1], "stopped member")
    for i in (0, 2):
        assert_same_reports(train_dsr(configs[i]), fused[i], f"member {i}")


def _epoch(run: PopulationRun) -> None:
    """One epoch of the population with its plans stepped, as `train_dsr_population` does."""
    for k, loss in run.train_epoch().items():
        run.runs[k].plan.step_epoch(train_loss=loss)


def test_stop_freezes_member_bit_identical(small_data: DSRData) -> None:
    configs = [member({"learning_rate": 1e-2 * (i + 1)}, n_epochs=6) for i in range(3)]
    run = PopulationRun(configs, None, small_data, torch.device("cpu"))
    _epoch(run)
    run.stop(1)
    stopped = run.member_state(1)
    others = [run.member_state(k) for k in (0, 2)]
    _epoch(run)
    _epoch(run)
    assert run.members() == [0, 2]
    for name, value in run.member_state(1).items():
        assert torch.equal(value, stopped[name]), name
    for state, k in zip(others, (0, 2), strict=True):
        assert any(not torch.equal(v, state[n]) for n, v in run.member_state(k).items())


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "AdamW", "hyperparameters": {"weight_decay": 0.1}},
        {"name": "Adam", "hyperparameters": {"weight_decay": 0.1}},
        {"name": "SGD", "hyperparameters": {"momentum": 0.9, "weight_decay": 0.1}},
    ],
    ids=lambda o: o["name"],
)
def test_frozen_groups_stay_bit_identical(small_data: DSRData, optimizer: dict[str, Any]) -> None:
    frozen = {
        "learning_rate": {"encoder": {"lr": 1e-2, "freeze_after": 2}, "dsr": {"lr": 1e-2}},
        "optimizer": optimizer,
    }
    moving = {"learning_rate": 1e-2, "optimizer": optimizer}
    run = PopulationRun(
        [member(frozen, n_epochs=6), member(moving, n_epochs=6)],
        None,
        small_data,
        torch.device("cpu"),
    )
    encoder = [n for n in run.params if n.startswith("encoder.")]
    _epoch(run)
    _epoch(run)
    at_freeze = run.member_state(0)
    moving_before = run.member_state(1)
    state_before = {n: run.optimizer.state[n]["b"][0].clone() for n in encoder}
    for _ in range(3):
        _epoch(run)
    after = run.member_state(0)
    for name in encoder:
        assert torch.equal(after[name], at_freeze[name]), name
        assert torch.equal(run.optimizer.state[name]["b"][0], state_before[name]), name
        assert not torch.equal(run.member_state(1)[name], moving_before[name]), name
    assert not torch.equal(after["decoder.weight"], at_freeze["decoder.weight"])


def test_members_must_share_the_model_and_data(small_data: DSRData) -> None:
    configs = [
        member({"learning_rate": 1e-2}),
        member({"learning_rate": 1e-2, "alpha": 0.5, "grad_clip": 1.0}),  # may differ
        member({"learning_rate": 1e-2}, hidden_dim=16, seed=3),
        member({"learning_rate": {"decoder": {"subjects": {"lr": 1}}}}, batch_size=4),
    ]
    with pytest.raises(ConfigError) as raised:
        PopulationRun(configs, None, small_data, torch.device("cpu"))
    paths = sorted(p.path for p in raised.value.problems)
    assert paths == [
        "members[2].hidden_dim",
        "members[2].seed",
        "members[3].batch_size",
        "members[3].learning_rate.decoder.subjects",
    ]
    message = str(raised.value)
    assert "members[2].hidden_dim is 16, but member 0 has 8" in message


@pytest.mark.parametrize(
    ("optimizers", "path"),
    [
        ([{"name": "RAdam"}], "members[1].optimizer.name"),
        (
            [{"name": "Adam", "hyperparameters": {"amsgrad": True}}],
            "members[1].optimizer.hyperparameters.amsgrad",
        ),
        (
            [{"name": "AdamW", "hyperparameters": {"maximize": True}}],
            "members[1].optimizer.hyperparameters.maximize",
        ),
        ([{"name": "SGD"}], "members"),
    ],
)
def test_unsupported_optimizers_are_refused(
    small_data: DSRData, optimizers: list[dict[str, Any]], path: str
) -> None:
    configs = [member({"learning_rate": 1e-2})]
    configs += [member({"learning_rate": 1e-2, "optimizer": o}) for o in optimizers]
    with pytest.raises(ConfigError) as raised:
        PopulationRun(configs, None, small_data, torch.device("cpu"))
    assert [p.path for p in raised.value.problems] == [path]


def test_adam_and_adamw_share_a_population(small_data: DSRData) -> None:
    configs = [
        member({"learning_rate": 1e-2, "optimizer": {"name": name}}) for name in ("Adam", "AdamW")
    ]
    run = PopulationRun(configs, None, small_data, torch.device("cpu"))
    assert run.optimizer.decoupled == [False, True]


def test_member_with_every_group_frozen_waits(float64: None) -> None:
    frozen = {k: {"lr": 1e-2, "unfreeze_at": 2} for k in ("encoder", "decoder", "dsr")}
    configs = [
        member({"learning_rate": frozen}, n_epochs=4),
        member({"learning_rate": 1e-2}, n_epochs=4),
    ]
    fused = train_dsr_population(configs)
    errors = [r["pred_error"] for r in fused[0]]
    assert errors[0] == errors[1] != errors[2]  # nothing moves for two epochs
    for i, config in enumerate(configs):
        assert_same_reports(train_dsr(config), fused[i], f"member {i}")


def test_population_where_every_member_fails() -> None:
    configs = [member({"learning_rate": lr}, n_epochs=4, grad_clip=None) for lr in (1e4, 3e4)]
    reporter = MemoryPopulationReporter(stop_at={0: 1, 1: 1})  # stopping a failed one: no-op
    fused = train_dsr_population(configs, reporter)
    assert [len(reports) for reports in fused] == [1, 1]
    assert all(set(reports[-1]) == {"epoch", "failed"} for reports in fused)
    assert len(reporter.epochs) == max(r[-1]["epoch"] for r in fused)


def test_state_dict_resumes_exactly(small_data: DSRData, tmp_path: Any) -> None:
    configs = [
        member({"learning_rate": 1e-2}, n_epochs=6),
        member({"learning_rate": {"encoder": {"lr": 2e-2, "freeze_after": 2}}}, n_epochs=6),
        member(CONFIGS[2], n_epochs=6),
    ]
    straight = PopulationRun(configs, None, small_data, torch.device("cpu"))
    first = PopulationRun(configs, None, small_data, torch.device("cpu"))
    for run in (straight, first):
        _epoch(run)
        run.stop(0)
        _epoch(run)
    torch.save(first.state_dict(), tmp_path / "state.pt")
    resumed = PopulationRun(configs, None, small_data, torch.device("cpu"))
    resumed.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert resumed.members() == [1, 2] and resumed.stopped == {0}
    for run in (straight, resumed):
        _epoch(run)
        _epoch(run)
    for k in range(3):
        for name, value in straight.member_state(k).items():
            assert torch.equal(resumed.member_state(k)[name], value), (k, name)
    for name, state in straight.optimizer.state.items():
        for key, value in state.items():
            assert torch.equal(resumed.optimizer.state[name][key], value), (name, key)


def test_state_of_another_population_is_refused(small_data: DSRData) -> None:
    two = PopulationRun(
        [member({"learning_rate": 1e-2})] * 2, None, small_data, torch.device("cpu")
    )
    three = PopulationRun(
        [member({"learning_rate": 1e-2})] * 3, None, small_data, torch.device("cpu")
    )
    with pytest.raises(TunerError, match="not a state of this population"):
        three.load_state_dict(two.state_dict())


def test_float32_population_stays_close_to_lone_runs() -> None:
    configs = [member(c, n_epochs=3) for c in CONFIGS]
    fused = train_dsr_population(configs)
    for i, config in enumerate(configs):
        lone = train_dsr(config)
        for a, b in zip(lone, fused[i], strict=True):
            assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5), (i, a["epoch"])
            assert b["pred_error"] == pytest.approx(a["pred_error"], rel=1e-4), (i, a["epoch"])


def test_batched_state_space_divergence_matches_the_lone_measure() -> None:
    gen = torch.Generator().manual_seed(0)
    true = torch.randn(400, 3, generator=gen, dtype=torch.float64)
    scales = [0.5, 1.0, 1.5, 3.0, 200.0, 1.0, 0.8, 1.2, 2.0, 0.9, 1.1]  # 200: diverged, capped
    gens = torch.stack(
        [torch.randn(400, 3, generator=gen, dtype=torch.float64) * s for s in scales]
    )
    gens[5, 7, 1] = math.nan  # non-finite: capped
    batched = state_space_divergences(true, gens)
    lone = [state_space_divergence(true, g) for g in gens]
    assert batched == pytest.approx(lone, abs=1e-12, rel=0)
    assert batched[4] == batched[5] == D_STSP_CAP and 0 < batched[1] < D_STSP_CAP


def test_batched_hellinger_distance_matches_the_lone_measure() -> None:
    gen = torch.Generator().manual_seed(1)
    t = torch.arange(500, dtype=torch.float64)[:, None]
    true = torch.sin(t / torch.tensor([5.0, 9.0, 13.0])) + 0.1 * torch.randn(
        500, 3, generator=gen, dtype=torch.float64
    )
    periods = [5.0, 7.0, 20.0, 40.0, 6.0]
    gens = torch.stack([torch.sin(t / p).expand(-1, 3).clone() for p in periods])
    gens[2] *= 1e5  # far outside the data: capped
    gens[4, 3, 0] = math.inf  # non-finite: capped
    batched = hellinger_distances(true, gens)
    lone = [hellinger_distance(true, g) for g in gens]
    assert batched == pytest.approx(lone, abs=1e-12, rel=0)
    assert batched[2] == batched[4] == D_H_CAP
    assert len({round(v, 6) for v in batched[:2] + batched[3:4]}) == 3
