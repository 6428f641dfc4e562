"""Save after k epochs, rebuild from config, load, continue: identical to an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.lr.helpers import make_model, train_epoch
from trainables.lr import ConfigError, TunerError, build_lr_plan

N_EPOCHS = 10
CONFIGS = {
    "plateau+freeze+AdamW": {
        "learning_rate": {
            "encoder": {"shared": {"lr": 1e-2, "freeze_after": 6}, "subjects": {"lr": 3e-2}},
            "decoder": {"lr": 1e-2, "unfreeze_at": 2},
            "dsr": {"lr": 2e-2},
        },
        "lr_scheduling": {
            "name": "ReduceLROnPlateau",
            "hyperparameters": {"factor": 0.5, "patience": 0},
        },
        "optimizer": {"name": "AdamW", "hyperparameters": {"weight_decay": 0.05}},
    },
    "multistep+leaf schedule+SGD": {
        "learning_rate": {
            "encoder": {
                "lr": 0.05,
                "schedule": {"name": "StepLR", "hyperparameters": {"step_size": 2}},
            }
        },
        "lr_scheduling": {"hyperparameters": {"milestones": [0.3, 0.7], "gamma": 0.5}},
        "optimizer": {"name": "SGD", "hyperparameters": {"momentum": 0.9}},
    },
    "stepwise+RAdam": {
        "learning_rate": [1e-2, 5e-2],
        "lr_scheduling": {"name": "CyclicLR"},
        "optimizer": {"name": "RAdam"},
    },
}


def run(config: dict, epochs: range, model=None, plan=None):
    """Train `epochs`, recording each epoch's lrs; returns (model, plan, lrs)."""
    if model is None:
        model = make_model()
        plan = build_lr_plan(model, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    lrs = []
    for epoch in epochs:
        lrs.append(plan.lrs())
        loss = train_epoch(model, plan, epoch)
        plan.step_epoch(train_loss=loss)
    return model, plan, lrs


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("k", [3, 7])
def test_resume_matches_an_uninterrupted_run(name: str, k: int, tmp_path: Path) -> None:
    config = CONFIGS[name]
    whole_model, whole_plan, whole_lrs = run(config, range(N_EPOCHS))

    model, plan, lrs = run(config, range(k))
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": model.state_dict(), "plan": plan.state_dict()}, path)
    del model, plan

    saved = torch.load(path, weights_only=True)
    model = make_model(seed=123)  # different initial weights: everything must come from the file
    model.load_state_dict(saved["model"])
    plan = build_lr_plan(model, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    plan.load_state_dict(saved["plan"])
    model, plan, rest = run(config, range(k, N_EPOCHS), model, plan)

    assert lrs + rest == whole_lrs
    assert plan.lrs() == whole_plan.lrs()
    assert plan.clock == whole_plan.clock
    assert plan.frozen() == whole_plan.frozen()
    for (key, a), b in zip(
        whole_model.state_dict().items(), model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), key
    assert len(set(map(str, whole_lrs))) > 1, "the lrs must change during the run"
    if "plateau" in name:
        assert whole_lrs[-1]["dsr.shared"] < 2e-2, "the plateau rule must have fired"


def test_state_holds_everything_keyed_by_group_name() -> None:
    plan = build_lr_plan(make_model(), CONFIGS["plateau+freeze+AdamW"], N_EPOCHS, 3)
    for _ in range(9):
        plan.step_batch()
        if plan.clock.step % 3 == 0:
            plan.step_epoch(train_loss=1.0)  # never improves: reduces every epoch after the first
    state = plan.state_dict()
    names = list(plan.group_names)
    assert state["group_names"] == names
    assert state["clock"] == {"epoch": 3, "step": 9}
    assert list(state["schedules"]) == names and list(state["frozen"]) == names
    assert list(state["optimizer"]) == names
    assert state["schedules"]["dsr.shared"]["scale"] == 0.25
    assert state["frozen"]["decoder.shared"] is False


def test_groups_are_matched_by_name_not_position() -> None:
    """A model listing the same groups in another order resumes onto the right groups."""
    from tests.lr.helpers import SeedModel

    class Reordered(SeedModel):
        def lr_groups(self):
            return dict(reversed(list(super().lr_groups().items())))

    config = CONFIGS["plateau+freeze+AdamW"]
    model, plan, _ = run(config, range(3))
    torch.manual_seed(0)
    other = Reordered()
    other.load_state_dict(model.state_dict())
    resumed = build_lr_plan(other, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    resumed.load_state_dict(plan.state_dict())
    assert resumed.group_names == tuple(reversed(plan.group_names))
    assert resumed.lrs() == plan.lrs()
    for name in plan.group_names:
        ours = [resumed.optimizer.state[p] for p in other.lr_groups()[name]]
        theirs = [plan.optimizer.state[p] for p in model.lr_groups()[name]]
        for a, b in zip(ours, theirs, strict=True):
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_checkpoint_with_other_group_names_is_refused(tmp_path: Path) -> None:
    _, plan, _ = run({"learning_rate": 1e-3}, range(2))
    state = plan.state_dict()
    state["group_names"] = ["encoder", "decoder"]
    state["optimizer"] = {"encoder": state["optimizer"]["encoder.shared"]}
    fresh = build_lr_plan(
        make_model(), {"learning_rate": 1e-3}, n_epochs=N_EPOCHS, steps_per_epoch=3
    )
    with pytest.raises(ConfigError) as error:
        fresh.load_state_dict(state)
    message = str(error.value)
    assert "['decoder', 'encoder']" in message
    assert "'decoder.shared', 'dsr.shared'" in message
    assert isinstance(error.value, TunerError)
    assert fresh.clock.epoch == 0


def test_checkpoint_from_a_pattern_grouped_model_is_refused_by_a_seed_model() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    groups = {"groups": {"body": ["0.*"], "head": ["1.*"]}}
    state = build_lr_plan(model, groups, n_epochs=N_EPOCHS).state_dict()
    seed_plan = build_lr_plan(make_model(), {}, n_epochs=N_EPOCHS)
    with pytest.raises(ConfigError, match=r"\['body', 'head'\].*\['decoder.shared'"):
        seed_plan.load_state_dict(state)


def test_checkpoint_with_another_budget_is_refused() -> None:
    _, plan, _ = run({"learning_rate": 1e-3}, range(2))
    other = build_lr_plan(make_model(), {"learning_rate": 1e-3}, n_epochs=20, steps_per_epoch=3)
    with pytest.raises(ConfigError, match="checkpoint.n_epochs is 10, but this plan has 20"):
        other.load_state_dict(plan.state_dict())
    other = build_lr_plan(make_model(), {"learning_rate": 1e-3}, n_epochs=10, steps_per_epoch=4)
    with pytest.raises(ConfigError, match="checkpoint.steps_per_epoch is 3, but this plan has 4"):
        other.load_state_dict(plan.state_dict())


def test_checkpoint_with_other_group_sizes_is_refused() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    state = build_lr_plan(model, {"groups": {"a": ["0.*"], "b": ["1.*"]}}, n_epochs=5).state_dict()
    other = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1, bias=False))
    plan = build_lr_plan(other, {"groups": {"a": ["0.*"], "b": ["1.*"]}}, n_epochs=5)
    with pytest.raises(ConfigError, match=r"optimizer\.b: holds 2 parameters, but the group has 1"):
        plan.load_state_dict(state)


def test_something_else_than_a_plan_state_is_refused() -> None:
    plan = build_lr_plan(make_model(), {}, n_epochs=N_EPOCHS)
    with pytest.raises(ConfigError, match="is not an LRPlan state"):
        plan.load_state_dict(plan.optimizer.state_dict())
