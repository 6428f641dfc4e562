"""The learning_rate search: base lr times matching multipliers, freeze precedence, seed format."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import FixedTrial

from search_spaces import LearningRateDef, define_learning_rate
from search_spaces.learning_rate import learning_rate_problems

GROUPS = ("encoder.shared", "encoder.subjects", "decoder.shared", "dsr.shared", "dsr.subjects")


def test_only_a_base_lr_gives_the_seed_number_form():
    spec = LearningRateDef(lr={"log_uniform": [1e-3, 1e-1]})
    trial = FixedTrial({"learning_rate": 0.02})  # named as the config key it sets
    out = define_learning_rate(trial, spec, n_epochs=10, group_names=GROUPS)
    assert out == {"learning_rate": 0.02} and trial.params == {"learning_rate": 0.02}
    with_mult = define_learning_rate(
        FixedTrial({"learning_rate": 0.02}),
        spec,
        n_epochs=10,
        group_names=GROUPS,
        dsr_subject_multiplier=4.0,
    )
    assert with_mult == {"learning_rate": 0.02, "dsr_subject_multiplier": 4.0}


def test_multipliers_multiply_and_the_most_specific_freeze_wins():
    spec = LearningRateDef(
        lr={"log_uniform": [1e-3, 1e-1]},
        multipliers={
            "encoder": {"log_uniform": [0.1, 10.0]},
            "*.subjects": {"choice": [1.0, 10.0]},
            "dsr.subjects": 2.0,
        },
        freeze_after={
            "encoder": {"int": [1, 20]},
            "encoder.subjects": {"choice": [None, 0.5]},
            "*.shared": 0.25,
        },
    )
    trial = FixedTrial(
        {
            "learning_rate/lr": 0.01,
            "learning_rate/encoder/multiplier": 0.5,
            "learning_rate/*/subjects/multiplier": 10.0,
            "learning_rate/encoder/freeze_after": 4,
            "learning_rate/encoder/subjects/freeze_after": 0.5,
        }
    )
    out = define_learning_rate(
        trial, spec, n_epochs=20, group_names=GROUPS, dsr_subject_multiplier=3.0
    )
    assert out == {
        "learning_rate": {
            "encoder": {
                "shared": {"lr": 0.01 * 0.5, "freeze_after": 4},
                "subjects": {"lr": 0.01 * 10.0 * 0.5, "freeze_after": 10},
            },
            "decoder": {"shared": {"lr": 0.01, "freeze_after": 5}},
            "dsr": {
                "shared": {"lr": 0.01, "freeze_after": 5},
                "subjects": {"lr": 0.01 * 10.0 * 2.0 * 3.0, "freeze_after": None},
            },
        }
    }
    # a FixedTrial is exact: it would raise for any parameter it was not given
    assert set(trial.params) == {
        "learning_rate/lr",
        "learning_rate/encoder/multiplier",
        "learning_rate/*/subjects/multiplier",
        "learning_rate/encoder/freeze_after",
        "learning_rate/encoder/subjects/freeze_after",
    }


def test_groups_without_a_level_get_a_leaf():
    spec = LearningRateDef(lr=0.1, multipliers={"head": 10.0}, freeze_after={"body": 3})
    out = define_learning_rate(FixedTrial({}), spec, n_epochs=5, group_names=("body", "head"))
    assert out == {
        "learning_rate": {
            "body": {"lr": 0.1, "freeze_after": 3},
            "head": {"lr": 0.1 * 10.0, "freeze_after": None},
        }
    }


def test_sampled_rates_stay_inside_the_declared_products():
    spec = LearningRateDef(
        lr={"log_uniform": [1e-3, 1e-2]}, multipliers={"dsr": {"log_uniform": [1.0, 10.0]}}
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(50):
        trial = study.ask()
        rates = define_learning_rate(trial, spec, n_epochs=10, group_names=GROUPS)
        base = trial.params["learning_rate/lr"]
        mult = trial.params["learning_rate/dsr/multiplier"]
        assert 1e-3 <= base <= 1e-2 and 1.0 <= mult <= 10.0
        assert rates["learning_rate"]["encoder"]["shared"]["lr"] == base
        assert rates["learning_rate"]["dsr"]["subjects"]["lr"] == base * mult


@pytest.mark.parametrize(
    ("section", "key", "hint"),
    [
        ("multipliers", "decoder.subjects", "use 'decoder' or one of its levels"),
        ("multipliers", "encodr", "did you mean 'encoder'?"),
        ("freeze_after", "*.subject", "did you mean '*.subjects'?"),
        ("freeze_after", "*", "known:"),
    ],
)
def test_keys_that_name_no_group_are_reported_with_the_nearest(section, key, hint):
    spec = LearningRateDef(lr=0.1, **{section: {key: 1.0 if section == "multipliers" else 3}})
    problems = learning_rate_problems(spec, GROUPS)
    assert len(problems) == 1
    assert problems[0].path == f"search.learning_rate.{section}.{key}"
    assert "names no parameter group" in problems[0].message and hint in problems[0].fix


def test_a_level_the_component_lacks_is_named():
    spec = LearningRateDef(lr=0.1, multipliers={"decoder.subjects": 2.0})
    (problem,) = learning_rate_problems(spec, GROUPS)
    assert str(problem) == (
        "search.learning_rate.multipliers.decoder.subjects: names no parameter group: "
        "decoder has only 'shared': use 'decoder' or one of its levels"
    )


def test_valid_keys_have_no_problems():
    spec = LearningRateDef(
        lr=0.1,
        multipliers={"encoder": 2.0, "*.subjects": 3.0, "dsr.shared": 0.5},
        freeze_after={"decoder": 3, "decoder.shared": 4, "*.shared": 0.5},
    )
    assert learning_rate_problems(spec, GROUPS) == []


def test_weight_decay_and_unfreeze_at_are_searched_per_group():
    from trainables.lr import LRSpec

    spec = LearningRateDef(
        lr={"log_uniform": [1e-3, 1e-1]},
        weight_decay={"encoder": {"log_uniform": [1e-5, 1e-2]}, "encoder.subjects": 0.0},
        unfreeze_at={"decoder": {"choice": [None, 0.5]}},
    )
    trial = FixedTrial(
        {
            "learning_rate/lr": 0.01,
            "learning_rate/encoder/weight_decay": 1e-3,
            "learning_rate/encoder/subjects/weight_decay": 0.0,
            "learning_rate/decoder/unfreeze_at": 0.5,
        }
    )
    out = define_learning_rate(trial, spec, n_epochs=10, group_names=GROUPS)["learning_rate"]
    assert out["encoder"]["shared"] == {
        "lr": 0.01, "freeze_after": None, "unfreeze_at": None, "weight_decay": 1e-3
    }  # fmt: skip
    assert out["encoder"]["subjects"]["weight_decay"] == 0.0  # the more specific key
    assert out["decoder"]["shared"]["unfreeze_at"] == 5  # half of 10 epochs
    assert out["dsr"]["subjects"]["weight_decay"] is None
    groups = LRSpec.from_config({"learning_rate": out}, GROUPS)
    assert groups.group("encoder.shared").weight_decay == 1e-3
    assert groups.group("decoder.shared").freeze.frozen(4) and not groups.group(
        "decoder.shared"
    ).freeze.frozen(5)


def test_a_negative_weight_decay_is_refused():
    with pytest.raises(ValueError, match="every value must be a number >= 0"):
        LearningRateDef(lr=1e-3, weight_decay={"encoder": -0.1})


def test_a_groups_own_lr_replaces_the_base_and_its_multipliers():
    spec = LearningRateDef(
        lr={"log_uniform": [1e-3, 1e-1]},
        lrs={"dsr": {"log_uniform": [1e-4, 1e-2]}, "dsr.subjects": 0.05},
        multipliers={"*.subjects": 10.0},
    )
    trial = FixedTrial({"learning_rate/lr": 0.01, "learning_rate/dsr/lr": 0.002})
    out = define_learning_rate(trial, spec, n_epochs=10, group_names=GROUPS)["learning_rate"]
    assert {
        f"{c}.{lv}": leaf["lr"] for c, levels in out.items() for lv, leaf in levels.items()
    } == {
        "encoder.shared": 0.01,
        "encoder.subjects": pytest.approx(0.1, rel=1e-15),
        "decoder.shared": 0.01,
        "dsr.shared": 0.002,
        "dsr.subjects": 0.05,
    }
    assert trial.params == {"learning_rate/lr": 0.01, "learning_rate/dsr/lr": 0.002}


def test_without_a_base_lr_every_group_needs_its_own():
    spec = LearningRateDef(lrs={"encoder": 1e-3, "decoder": 1e-3}, multipliers={"encoder": 2.0})
    problems = [str(p) for p in learning_rate_problems(spec, GROUPS)]
    assert problems == [
        "search.learning_rate.lr is missing, and lrs gives no lr to dsr.shared, dsr.subjects: "
        "add lr, or lrs keys for them",
        "search.learning_rate.multipliers.encoder: scales no group: each group it names has its "
        "own lr under lrs: remove it",
    ]
    with pytest.raises(ValueError, match="needs lr"):
        LearningRateDef(multipliers={"encoder": 2.0})
    full = LearningRateDef(lrs={"encoder": 1e-3, "decoder": 2e-3, "dsr": 3e-3})
    assert learning_rate_problems(full, GROUPS) == []


def test_optimizer_hyperparameters_merge_from_the_least_to_the_most_specific_key():
    spec = LearningRateDef(
        lr=1e-3,
        optimizer={
            "encoder": {"betas": [{"uniform": [0.8, 0.95]}, 0.999], "eps": 1e-6},
            "encoder.subjects": {"eps": {"log_uniform": [1e-9, 1e-7]}},
        },
    )
    trial = FixedTrial(
        {
            "learning_rate/encoder/optimizer/betas/0": 0.85,
            "learning_rate/encoder/subjects/optimizer/eps": 1e-8,
        }
    )
    out = define_learning_rate(trial, spec, n_epochs=10, group_names=GROUPS)["learning_rate"]
    assert out["encoder"]["shared"]["optimizer"] == {"betas": [0.85, 0.999], "eps": 1e-6}
    assert out["encoder"]["subjects"]["optimizer"] == {"betas": [0.85, 0.999], "eps": 1e-8}
    assert "optimizer" not in out["decoder"]["shared"]
    (problem,) = learning_rate_problems(LearningRateDef(lr=1e-3, optimizer={"enc": {}}), GROUPS)
    assert str(problem).startswith("search.learning_rate.optimizer.enc: names no parameter group")
