"""The finetune trainable: data splits, pretraining, layer-wise rates, freezing, exact resume."""

from __future__ import annotations

import pytest
import torch

from tests.interruptions import KilledAfter, RunKilled
from trainables.finetune import (
    FINETUNE_GROUPS,
    FinetuneNet,
    build_finetune_model,
    finetune_config_problems,
    train_finetune,
)
from trainables.finetune.data import load_digits_task
from trainables.finetune.model import pretrained_body
from trainables.lr import build_lr_plan
from trainables.registry import TRAINABLES
from trainables.reporting import MemoryReporter

FAST = {"n_epochs": 4, "pretrain_epochs": 5}


def test_the_splits_are_disjoint_seeded_and_sized() -> None:
    task = load_digits_task(0.1, 0)
    rows = [tuple(r.tolist()) for s in (task.pretrain, task.train, task.val) for r in s.x]
    assert len(task.pretrain.y) == 898 and len(task.train.y) == 90 and len(task.val.y) == 809
    assert len(rows) == 1797 and set(task.train.y.tolist()) == set(range(10))
    other = load_digits_task(0.1, 1)
    assert torch.equal(task.train.x, load_digits_task(0.1, 0).train.x)
    assert not torch.equal(task.train.x, other.train.x)


def test_the_pretrained_body_is_cached_and_reproducible() -> None:
    first = pretrained_body(16, 2, 0)
    assert pretrained_body(16, 2, 0) is first
    pretrained_body.cache_clear()
    again = pretrained_body(16, 2, 0)
    assert all(torch.equal(first[k], again[k]) for k in first)
    model = build_finetune_model(16, 2, 0, seed=3)
    assert all(torch.equal(v, model.body.state_dict()[k]) for k, v in first.items())


def test_the_model_groups_are_its_layers_bottom_to_top() -> None:
    model = FinetuneNet(8)
    groups = model.lr_groups()
    assert tuple(groups) == FINETUNE_GROUPS == TRAINABLES["finetune"].groups
    assert [len(ps) for ps in groups.values()] == [2, 2, 2, 2]
    assert {id(p) for ps in groups.values() for p in ps} == {id(p) for p in model.parameters()}


def test_reports_carry_metrics_and_the_decayed_layer_rates() -> None:
    config = {"learning_rate": {"body": 1e-3, "head": 1e-2}, "layer_decay": 0.5, **FAST}
    reports = train_finetune(config)
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4]
    first = reports[0]
    assert first["lr/head"] == 1e-2
    assert first["lr/body/layer3"] == 0.5e-3
    assert first["lr/body/layer2"] == 0.25e-3
    assert first["lr/body/layer1"] == pytest.approx(0.125e-3, rel=1e-15)
    assert 0 <= first["val_accuracy"] <= 1 and first["val_loss"] > 0


def test_pretraining_transfers() -> None:
    config = {"learning_rate": 1e-2, "n_epochs": 3}
    pretrained = train_finetune(config)[-1]
    scratch = train_finetune({**config, "pretrain_epochs": 0})[-1]
    assert pretrained["val_loss"] < 0.5 * scratch["val_loss"]
    assert pretrained["val_accuracy"] > scratch["val_accuracy"] + 0.1


def test_unfrozen_layers_keep_the_pretrained_weights_until_their_epoch() -> None:
    config = {"learning_rate": 1e-2, "unfreeze": {"last_n": 2, "every": 1}, **FAST}
    reports = train_finetune(config)
    assert [r["lr/body/layer1"] for r in reports] == [0.0, 0.0, 1e-2, 1e-2]
    assert [r["lr/body/layer2"] for r in reports] == [0.0, 1e-2, 1e-2, 1e-2]
    assert [r["lr/body/layer3"] for r in reports] == [1e-2] * 4
    # the first epoch trains only body.layer3 and head
    broken = KilledAfter(1)
    with pytest.raises(RunKilled):
        train_finetune({**config, "checkpoint_every": 1}, broken)
    weights = broken.checkpoint["model"]
    body = pretrained_body(64, 5, 0)
    assert torch.equal(weights["body.layer1.0.weight"], body["layer1.0.weight"])
    assert torch.equal(weights["body.layer2.0.bias"], body["layer2.0.bias"])
    assert not torch.equal(weights["body.layer3.0.weight"], body["layer3.0.weight"])


def test_resume_mid_unfreezing_gives_the_uninterrupted_run() -> None:
    config = {
        "learning_rate": 3e-3,
        "layer_decay": 0.7,
        "unfreeze": {"last_n": 1, "every": 1},
        "lr_scheduling": {"name": "Cosine"},
        "checkpoint_every": 2,
        **FAST,
    }
    whole = train_finetune(config)
    broken = KilledAfter(3)
    with pytest.raises(RunKilled):
        train_finetune(config, broken)  # checkpoint at 2, killed after 3
    resumed = train_finetune(config, MemoryReporter(broken.checkpoint))
    assert [r["epoch"] for r in resumed] == [3, 4]
    assert resumed == whole[2:]


def test_config_problems_cover_settings_and_layer_keys() -> None:
    assert finetune_config_problems({"learning_rate": 1e-3, **FAST}) == []
    problems = finetune_config_problems(
        {
            "learning_rate": {"body": {"layer4": 1e-3}},
            "layers": ["body.*", "classifier"],
            "batch_sise": 8,
        }
    )
    text = "\n".join(map(str, problems))
    assert "batch_sise is not a known key" in text
    assert "layers[1]: 'classifier' is not a module of FinetuneNet" in text
    problems = finetune_config_problems({"learning_rate": {"body": {"layer4": 1e-3}}})
    assert "learning_rate.body.layer4 is neither a level of the body" in str(problems[0])


def test_a_plan_over_the_layers_found_by_paths_matches_lr_groups() -> None:
    model = FinetuneNet(8)
    own = build_lr_plan(model, {"learning_rate": 1e-3}, n_epochs=1)
    found = build_lr_plan(model, {"layers": ["body.*", "head"]}, n_epochs=1)
    assert own.group_names == found.group_names == FINETUNE_GROUPS
    for a, b in zip(own.optimizer.param_groups, found.optimizer.param_groups, strict=True):
        assert [id(p) for p in a["params"]] == [id(p) for p in b["params"]]
