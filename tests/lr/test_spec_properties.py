"""Property tests of the config parser: good configs build, every corruption is named by path."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lr.helpers import make_model
from trainables.lr import SEED_GROUPS, LRSpec, build_lr_plan, lr_config_problems

LEVELS = {"encoder": ("shared", "subjects"), "decoder": ("shared",), "dsr": ("shared", "subjects")}
lrs = st.floats(min_value=1e-6, max_value=1.0)
epochs = st.none() | st.integers(min_value=0, max_value=50)
schedules = st.sampled_from(
    [
        None,
        {"name": "MultiStepLR", "hyperparameters": {"milestones": [0.2, 0.8], "gamma": 0.1}},
        {"name": "StepLR", "hyperparameters": {"step_size": 3}},
        {"name": "ExponentialLR", "hyperparameters": {"initial": 1e-3, "final": 1e-5}},
        {"name": "ReduceLROnPlateau", "hyperparameters": {"mode": "min", "factor": 0.1}},
        {"name": "Constant"},
    ]
)


@st.composite
def leaves(draw) -> dict:
    leaf = {"lr": draw(lrs), "freeze_after": draw(epochs)}
    if draw(st.booleans()):
        leaf["weight_decay"] = draw(st.floats(min_value=0, max_value=0.5))
    if draw(st.booleans()):
        leaf["schedule"] = draw(schedules.filter(lambda s: s is not None))
    return leaf


@st.composite
def learning_rates(draw):
    form = draw(st.sampled_from(["float", "list", "dict"]))
    if form == "float":
        return draw(lrs)
    if form == "list":
        return [draw(lrs), draw(lrs)]
    out = {}
    for component in draw(st.sets(st.sampled_from(sorted(LEVELS)))):
        if draw(st.booleans()):
            out[component] = draw(leaves())
        else:
            levels = draw(st.sets(st.sampled_from(LEVELS[component]), min_size=1))
            out[component] = {level: draw(leaves()) for level in sorted(levels)}
    return out


@st.composite
def good_configs(draw) -> dict:
    config = {"learning_rate": draw(learning_rates())}
    schedule = draw(schedules)
    if schedule is not None:
        config["lr_scheduling"] = schedule
    optimizer = draw(st.sampled_from([None, "Adam", "AdamW", "RAdam", "SGD"]))
    if optimizer is not None:
        config["optimizer"] = {"name": optimizer}
    config["batch_size"] = draw(st.integers(1, 64))  # a trainable's own key: ignored
    return config


def leaf_paths(config: dict) -> list[str]:
    value = config["learning_rate"]
    if not isinstance(value, dict):
        return []
    out = []
    for component, body in value.items():
        if "lr" in body:
            out.append(f"learning_rate.{component}")
        else:
            out.extend(f"learning_rate.{component}.{level}" for level in body)
    return out


def leaf_at(config: dict, path: str) -> dict:
    node = config
    for part in path.split("."):
        node = node[part]
    return node


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(good_configs())
def test_every_good_config_builds(config: dict) -> None:
    assert lr_config_problems(config, group_names=SEED_GROUPS) == []
    spec = LRSpec.from_config(config, group_names=SEED_GROUPS)
    plan = build_lr_plan(make_model(), config, n_epochs=10)
    for group in spec.groups:
        frozen = group.freeze.frozen(0)
        assert plan.lrs()[group.name] == (0.0 if frozen else group.lr * plan.factors()[group.name])
    plan.step_epoch(train_loss=1.0)


CORRUPTIONS = {
    "lr": ("lr", -1.0),
    "freeze_after": ("freeze_after", 1.5),
    "unknown": ("learning_rat", 1e-3),
    "weight_decay": ("weight_decay", -0.1),
    "schedule": ("schedule", {"name": "Nope"}),
}


@SETTINGS
@given(good_configs(), st.data())
def test_every_corruption_is_named_by_its_path(config: dict, data) -> None:
    paths = leaf_paths(config)
    kind = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
    key, value = CORRUPTIONS[kind]
    if paths:
        path = data.draw(st.sampled_from(paths))
        leaf_at(config, path)[key] = value
        expected = f"{path}.{key}"
    else:
        config["lr_scheduling"] = {"name": "StepLR", "hyperparameters": {"step_size": 0}}
        expected = "lr_scheduling.hyperparameters.step_size"
    problems = lr_config_problems(config, group_names=SEED_GROUPS)
    assert any(p.path.startswith(expected) for p in problems), (
        expected,
        [str(p) for p in problems],
    )
