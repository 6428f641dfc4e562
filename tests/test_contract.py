"""The contract between search spaces and trainables: every sample of every shipped space is a
config the LR library accepts, with exactly the rates, freezes and ratios the search declared."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from trainables.dsr.model import HierarchicalDSR
from trainables.lr import LRSpec, build_lr_plan, lr_config_problems
from tuner.space import load_space, sample_configs

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
N_SAMPLES = 200


def test_the_examples_are_found():
    names = {path.name for path in EXAMPLES}
    assert {"space_hierarchical.yaml", "space_schedules.yaml", "space_seed_forms.yaml"} <= names


def expected_rates(config: dict, groups: tuple[str, ...]) -> dict[str, tuple[float, int | None]]:
    """(lr, freeze_after) of every group, read straight from the sampled seed-format config."""
    rate = config["learning_rate"]
    if isinstance(rate, float):
        mult = config.get("dsr_subject_multiplier", 10.0)
        return {g: (rate * mult if g == "dsr.subjects" else rate, None) for g in groups}
    out = {}
    for group in groups:
        component, _, level = group.partition(".")
        leaf = rate[component][level] if "lr" not in rate[component] else rate[component]
        out[group] = (leaf["lr"], leaf["freeze_after"])
    return out


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_sample_of_every_space_is_a_valid_lr_config(path):
    space = load_space(path)
    entry = space.resolve_trainable()
    groups = space.group_names()
    build = getattr(entry, "build_model", None)
    model = build() if build is not None else HierarchicalDSR(n_subjects=3, obs_dim=5)
    configs = sample_configs(space, n=N_SAMPLES, seed=0)
    assert len({repr(c) for c in configs}) > N_SAMPLES // 2  # really sampled
    for index, config in enumerate(configs):
        where = f"{path.name} sample #{index}: {config}"
        assert config["n_epochs"] == space.n_epochs, where
        assert all(config[k] == v for k, v in space.fixed.items()), where
        assert lr_config_problems(config, groups) == [], where
        assert entry.config_problems(config) == [], where
        spec = LRSpec.from_config(config, groups)
        if "learning_rate" not in config:
            continue
        rates = expected_rates(config, groups)
        decay = config.get("layer_decay") or 1.0  # x decay ** (depth from the last group)
        for depth, (group, (lr, _)) in enumerate(reversed(rates.items())):
            assert spec.group(group).lr == pytest.approx(lr * decay**depth, rel=1e-12), where
        plan = build_lr_plan(model, config, n_epochs=space.n_epochs, steps_per_epoch=4)
        preview = plan.preview()
        assert list(preview.columns) == list(groups), where
        assert preview.notna().all().all() and (preview >= 0).all().all(), where
        training = [g for g, (_, f) in rates.items() if f is None]
        for group, (_, freeze_after) in rates.items():
            if freeze_after is not None:  # frozen from that epoch on
                assert (preview[group].iloc[freeze_after:] == 0).all(), where
        for epoch, row in preview.iterrows():  # one schedule scales every training group alike
            live = [g for g in training if not spec.group(g).freeze.frozen(epoch)]
            factors = [row[g] / spec.group(g).lr for g in live]
            assert all(math.isclose(f, factors[0], rel_tol=1e-9) for f in factors), where
