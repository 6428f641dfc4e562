"""Value schedules: a named scalar (e.g. the teacher-forcing alpha) driven by the registry."""

from __future__ import annotations

import math

import pytest

from trainables.lr.errors import ConfigError
from trainables.lr.schedules.base import Clock
from trainables.lr.values import build_value_schedule, value_schedule_problems


def test_a_number_is_a_constant() -> None:
    alpha = build_value_schedule(0.3, n_epochs=5)
    assert [alpha.value(Clock(epoch=e, n_epochs=5)) for e in range(6)] == [0.3] * 6
    assert alpha.unit == "epoch"


def test_teacher_forcing_alpha_from_0_3_to_0_03() -> None:
    config = {
        "initial": 0.3,
        "name": "ExponentialLR",
        "hyperparameters": {"initial": 0.3, "final": 0.03},
    }
    alpha = build_value_schedule(config, n_epochs=20)
    values = [alpha.value(Clock(epoch=e, n_epochs=20)) for e in range(21)]
    for e, v in enumerate(values):
        assert math.isclose(v, 0.3 * 0.1 ** (e / 20), rel_tol=1e-12), e
    assert values[0] == 0.3 and math.isclose(values[20], 0.03, rel_tol=1e-12)


def test_step_wise_value_needs_and_uses_steps() -> None:
    config = {"initial": 2.0, "name": "Cosine", "hyperparameters": {"unit": "step"}}
    weight = build_value_schedule(config, n_epochs=2, steps_per_epoch=5)
    assert weight.unit == "step"
    got = [weight.value(Clock(s // 5, s, 2, 5)) for s in range(10)]
    want = [2.0 * (1 + math.cos(math.pi * s / 10)) / 2 for s in range(10)]
    assert got == pytest.approx(want, rel=1e-12)
    with pytest.raises(ConfigError, match=r"value\.Cosine: .*steps_per_epoch is not known"):
        build_value_schedule(config, n_epochs=2)


def test_stateful_value_observes_and_resumes() -> None:
    config = {"initial": 0.5, "name": "NewBob", "hyperparameters": {"metric": "val_loss"}}
    losses = [3.0, 2.0, 2.0, 1.0, 1.0]
    whole = build_value_schedule(config, n_epochs=5)
    seen = []
    for e, loss in enumerate(losses):
        whole.observe({"val_loss": loss})
        seen.append(whole.value(Clock(epoch=e + 1, n_epochs=5)))
    assert seen == [0.5, 0.5, 0.25, 0.25, 0.125]

    first = build_value_schedule(config, n_epochs=5)
    for loss in losses[:3]:
        first.observe({"val_loss": loss})
    second = build_value_schedule(config, n_epochs=5)
    second.load_state_dict(first.state_dict())
    for loss in losses[3:]:
        second.observe({"val_loss": loss})
    assert second.value(Clock(epoch=5, n_epochs=5)) == seen[-1]


def test_composed_value_schedule() -> None:
    config = {
        "initial": 1.0,
        "name": "Sequential",
        "hyperparameters": {
            "schedules": [{"name": "Constant"}, {"name": "Linear"}],
            "fractions": [0.5, 0.5],
        },
    }
    v = build_value_schedule(config, n_epochs=10)
    got = [v.value(Clock(epoch=e, n_epochs=10)) for e in range(10)]
    assert got == pytest.approx([1.0] * 5 + [1.0, 0.75, 0.5, 0.25, 0.0], rel=1e-12, abs=1e-15)


def test_yaml_unparsed_number_is_accepted() -> None:
    assert build_value_schedule("1e-3", n_epochs=3).value(Clock(n_epochs=3)) == 1e-3


def test_every_problem_at_once_with_paths() -> None:
    config = {"initial": "abc", "name": "Cosin", "hyperparamters": {}}
    text = [str(p) for p in value_schedule_problems(config, "trainable.alpha")]
    assert len(text) == 3
    assert any(t.startswith("trainable.alpha.hyperparamters is not a known key") for t in text)
    assert any(t.startswith("trainable.alpha.initial is 'abc', but must be a finite") for t in text)
    assert any(
        t.startswith("trainable.alpha.name: 'Cosin' is not a known schedule")
        and "did you mean 'Cosine'" in t
        for t in text
    )
    with pytest.raises(ConfigError) as error:
        build_value_schedule(config, n_epochs=3, path="trainable.alpha")
    assert len(error.value.problems) == 3


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ([0.3], "must be a number or a mapping"),
        (True, "must be a number or a mapping"),
        (float("nan"), "must be a number or a mapping"),
        ({"name": "Cosine"}, "value.initial is required but missing"),
        (
            {"initial": 0.3, "name": "Cosine", "hyperparameters": {"min_lr_ratio": 3}},
            "value.hyperparameters.min_lr_ratio is 3",
        ),
    ],
)
def test_bad_value_configs(config: object, needle: str) -> None:
    problems = value_schedule_problems(config)
    assert len(problems) == 1 and needle in str(problems[0])
