"""space.yaml: a good file loads; every malformed one is rejected naming file, path and fix."""

from __future__ import annotations

import importlib.util
import pickle
import textwrap
from pathlib import Path

import pytest
from optuna.trial import FixedTrial

from search_spaces import SearchDef, search_problems
from trainables.lr import SEED_GROUPS
from trainables.lr.errors import ConfigError
from trainables.lr.schedules.registry import SCHEDULES, lookup
from tuner.space import SpaceFile, load_space, parse_space, sample_configs
from tuner.space import _schedules as registry_schedules

GOOD = """\
name: tiny
trainable: dsr
n_epochs: 10
metric: score
mode: min
num_samples: 6
max_concurrent_trials: 2
fixed: {hidden_dim: 8, latent_dim: 6, grad_clip: 1e1}
search:
  learning_rate:
    lr: {log_uniform: [1e-3, 3e-2]}
    multipliers: {dsr.subjects: {log_uniform: [1, 30]}}
    freeze_after: {encoder.subjects: {choice: [null, 0.5]}}
  lr_scheduling:
    choice:
      MultiStepLR: {gamma: {log_uniform: [0.05, 0.5]}, milestones: [0.5, 0.8]}
      ExponentialLR: {gamma: {uniform: [0.9, 0.99]}}
  settings:
    alpha: {uniform: [0.05, 0.3]}
searcher: {name: tpe, seed: 3, n_startup_trials: 4}
asha: {grace_period: 2, reduction_factor: 3}
resources: {cpu: 1, gpu: 0.5}
checkpoint_every: 2
keep_checkpoints: 3
max_failures: 1
storage_path: out
optuna_storage: sqlite:///out/tiny.db
address: auto
"""


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_load_space_reads_every_field(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, GOOD)
    space = load_space("space.yaml")
    assert isinstance(space, SpaceFile) and space.source == "space.yaml"
    assert (space.name, space.trainable, space.n_epochs, space.metric, space.mode) == (
        "tiny",
        "dsr",
        10,
        "score",
        "min",
    )
    assert (space.num_samples, space.max_concurrent_trials) == (6, 2)
    assert space.fixed == {"hidden_dim": 8, "latent_dim": 6, "grad_clip": 10.0}
    assert space.searcher.model_dump() == {"name": "tpe", "seed": 3, "n_startup_trials": 4}
    assert space.asha.model_dump() == {"grace_period": 2, "reduction_factor": 3.0, "brackets": 1}
    assert space.resources.model_dump() == {"cpu": 1.0, "gpu": 0.5}
    assert (space.checkpoint_every, space.keep_checkpoints, space.max_failures) == (2, 3, 1)
    assert (space.storage_path, space.optuna_storage, space.address) == (
        "out",
        "sqlite:///out/tiny.db",
        "auto",
    )
    assert space.raw["search"]["settings"] == {"alpha": {"uniform": [0.05, 0.3]}}
    assert space.resolve_trainable().name == "dsr"
    assert space.group_names() == tuple(SEED_GROUPS)


def test_defaults_of_a_minimal_file(tmp_path):
    space = load_space(write(tmp_path, "name: m\nn_epochs: 4\nmetric: score\nmode: max\n"))
    assert space.trainable == "dsr" and space.search == SearchDef() and space.fixed == {}
    assert space.asha.grace_period == 1 and space.asha.reduction_factor == 2
    assert space.searcher.name == "gp_budget" and space.searcher.seed == 0
    assert (space.resources.cpu, space.resources.gpu) == (1, 0)
    assert (space.storage_path, space.optuna_storage, space.address) == ("results", None, None)
    assert space.max_concurrent_trials is None and space.keep_checkpoints == 2


def test_define_gives_fixed_settings_n_epochs_and_samples(tmp_path):
    space = load_space(write(tmp_path, GOOD))
    trial = FixedTrial(
        {
            "learning_rate/lr": 0.01,
            "learning_rate/dsr/subjects/multiplier": 10.0,
            "learning_rate/encoder/subjects/freeze_after": None,
            "lr_scheduling/name": "ExponentialLR",
            "lr_scheduling/ExponentialLR/gamma": 0.95,
            "alpha": 0.2,
        }
    )
    leaf = {"lr": 0.01, "freeze_after": None}
    assert space.define(trial) == {
        "hidden_dim": 8,
        "latent_dim": 6,
        "grad_clip": 10.0,
        "n_epochs": 10,
        "learning_rate": {
            "encoder": {"shared": leaf, "subjects": leaf},
            "decoder": {"shared": leaf},
            "dsr": {"shared": leaf, "subjects": {"lr": 0.1, "freeze_after": None}},
        },
        "lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.95}},
        "alpha": 0.2,
    }


def test_sample_configs_are_seeded(tmp_path):
    space = load_space(write(tmp_path, GOOD))
    first = sample_configs(space, n=6, seed=1)
    assert len(first) == 6 and first == sample_configs(space, n=6, seed=1)
    assert first != sample_configs(space, n=6, seed=2)
    assert {c["lr_scheduling"]["name"] for c in sample_configs(space, n=30)} == {
        "MultiStepLR",
        "ExponentialLR",
    }


def test_overrides_are_validated_again(tmp_path):
    space = load_space(write(tmp_path, GOOD))
    assert space.with_overrides(num_samples=40, name=None).num_samples == 40
    with pytest.raises(ConfigError, match=r"num_samples is 0, but input should be greater"):
        space.with_overrides(num_samples=0)


def test_a_space_survives_pickling_for_ray(tmp_path):
    space = load_space(write(tmp_path, GOOD))
    copy = pickle.loads(pickle.dumps(space))
    assert copy == space and copy.source == space.source and copy.raw == space.raw
    assert sample_configs(copy, n=3, seed=5) == sample_configs(space, n=3, seed=5)


def test_a_custom_trainable_by_import_path_uses_the_seed_groups(tmp_path):
    text = GOOD.replace("trainable: dsr", "trainable: trainables.dsr:dsr_trainable")
    space = load_space(write(tmp_path, text))
    entry = space.resolve_trainable()
    from trainables.dsr import dsr_trainable

    assert entry.function is dsr_trainable and entry.groups == tuple(SEED_GROUPS)
    assert entry.config_problems({"learning_rate": -1.0})


def test_the_registry_names_every_schedule_and_alias():
    known, aliases = registry_schedules()
    for entry in SCHEDULES.values():
        for name in (entry.name, *entry.aliases):
            assert set(known[name]) == set(lookup(name).params.model_fields)
    assert aliases and not aliases & set(SCHEDULES)


def test_unknown_schedules_list_only_registered_names(tmp_path):
    data = {**BASE, "search": {"lr_scheduling": {"name": "NewBobSchedulr"}}}
    with pytest.raises(ConfigError) as info:
        parse_space(data, "space.yaml")
    (problem,) = info.value.problems
    assert problem.fix.startswith("did you mean 'NewBob")
    assert f"(known: {', '.join(sorted(SCHEDULES))})" in problem.fix


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_registered_schedule_is_searchable(name):
    spec = SearchDef.model_validate({"lr_scheduling": {"choice": {name: None, "StepLR": None}}})
    schedules, aliases = registry_schedules()
    problems = search_problems(
        spec, group_names=SEED_GROUPS, schedules=schedules, schedule_aliases=aliases
    )
    assert problems == []


BASE = {"name": "t", "n_epochs": 10, "metric": "score", "mode": "min"}
CMAES_MISSING = importlib.util.find_spec("cmaes") is None

MALFORMED = [
    (
        {"asha": {"grace_period": 20}},
        "space.yaml: asha.grace_period is 20, but must be <= n_epochs (10): "
        "lower grace_period or raise n_epochs",
    ),
    ({"num_sample": 3}, "space.yaml: num_sample is not a known key"),
    ({"n_epochs": 0}, "space.yaml: n_epochs is 0, but input should be greater than or equal to 1"),
    ({"mode": "minimize"}, "space.yaml: mode is 'minimize', but input should be 'min' or 'max'"),
    ({"metric": None}, "space.yaml: metric is None"),
    ({"name": "a/b"}, "space.yaml: name is 'a/b', but string should match pattern"),
    ({"keep_checkpoints": 1}, "space.yaml: keep_checkpoints is 1, but input should be greater"),
    ({"resources": {"cpu": 0}}, "space.yaml: resources.cpu is 0, but input should be greater"),
    ({"resources": {"gpu": 1.5}}, "space.yaml: resources.gpu is 1.5, but must be a fraction"),
    ({"resources": {"gpus": 1}}, "space.yaml: resources.gpus is not a known key"),
    ({"asha": {"reduction_factor": 1}}, "space.yaml: asha.reduction_factor is 1, but input"),
    ({"address": "localhost"}, "space.yaml: address is 'localhost', but must be 'auto'"),
    ({"optuna_storage": "optuna.db"}, "space.yaml: optuna_storage is 'optuna.db', but must be"),
    ({"trainable": "dsrr"}, "space.yaml: trainable: 'dsrr' is not a registered trainable: did you"),
    ({"trainable": "no_such_module:f"}, "space.yaml: trainable: 'no_such_module:f': module"),
    (
        {"trainable": "tests.tuner.toy:dump_it"},
        "space.yaml: trainable: 'tests.tuner.toy:dump_it': ",
    ),
    ({"trainable": "json:dumps"}, "space.yaml: trainable: 'json:dumps' names the standard-library"),
    ({"trainable": "tests.tuner.toy:score"}, "space.yaml: trainable: 'tests.tuner.toy:score' does"),
    ({"searcher": {"name": "tpee"}}, "space.yaml: searcher.name: 'tpee' is not a known sampler"),
    (
        {"searcher": {"name": "random", "n_startup_trials": 3}},
        "space.yaml: searcher.n_startup_trials is 3, but the 'random' sampler has no random",
    ),
    ({"fixed": {"n_epochs": 5}}, "space.yaml: fixed.n_epochs is a top-level setting: set n_epo"),
    (
        {"search": {"settings": {"checkpoint_every": {"int": [1, 3]}}}},
        "space.yaml: search.settings.checkpoint_every is a top-level setting: set checkpoint",
    ),
    (
        {"fixed": {"learning_rate": 0.01}, "search": {"learning_rate": {"lr": 0.02}}},
        "space.yaml: fixed.learning_rate is also set by the search block: keep only one",
    ),
    ({"search": {"hidden_dim": 3}}, "space.yaml: search.hidden_dim is not a known key"),
    (
        {"search": {"learning_rate": {"lr": {"log_uniform": [0, 1]}}}},
        "space.yaml: search.learning_rate.lr is {'log_uniform': [0, 1]}, but log_uniform bounds",
    ),
    (
        {"search": {"learning_rate": {"lr": 0.1, "multipliers": {"decoder.subjects": 2}}}},
        "space.yaml: search.learning_rate.multipliers.decoder.subjects: names no parameter group: "
        "decoder has only 'shared'",
    ),
    (
        {"search": {"learning_rate": {"lr": 0.1, "freeze_after": {"dsr": 1.5}}}},
        "space.yaml: search.learning_rate.freeze_after.dsr is 1.5, but freeze_after values",
    ),
    (
        {"search": {"lr_scheduling": {"choice": {"MultiStepLRR": None}}}},
        "space.yaml: search.lr_scheduling.choice.MultiStepLRR: 'MultiStepLRR' is not a known "
        "schedule: did you mean 'MultiStepLR'?",
    ),
    (
        {"search": {"lr_scheduling": {"name": "StepLR", "hyperparameters": {"gama": 0.5}}}},
        "space.yaml: search.lr_scheduling.hyperparameters.gama is not a hyperparameter of StepLR",
    ),
    (
        {"search": {"settings": {"alpha": {"uniform": [0.1, 0.2], "log": True}}}},
        "space.yaml: search.settings.alpha is {'uniform': [0.1, 0.2], 'log': True}, but log is",
    ),
    (
        {"search": {"settings": {"hiden_dim": {"choice": [8, 16]}}}},
        "space.yaml: search.settings.hiden_dim is not a known key "
        "(in 20 of 20 sampled configs, e.g. #0): remove it or check its spelling",
    ),
    (
        {"search": {"lr_scheduling": {"choice": {"MultiStepLR": {"milestones": [1.5]}}}}},
        "space.yaml: search.lr_scheduling.choice.MultiStepLR.milestones is [1.5], but",
    ),
    (
        {"search": {"lr_scheduling": {"name": "StepLR", "hyperparameters": {"gamma": -1}}}},
        "space.yaml: search.lr_scheduling.hyperparameters.gamma is -1",
    ),
    ({"fixed": {"latent_dim": 0}}, "space.yaml: fixed.latent_dim is 0, but input should be"),
    (
        {"search": {"learning_rate": {"lr": 0.1}, "dsr_subject_multiplier": {"choice": [0, 1]}}},
        "space.yaml: search.dsr_subject_multiplier is {'choice': [0, 1]}, but every value",
    ),
    (
        {"search": {"settings": {"alpha": {"uniform": [0.5, 1.5]}}}},
        "space.yaml: search.settings.alpha is 1.",
    ),
]
if CMAES_MISSING:
    MALFORMED.append(
        ({"searcher": {"name": "cmaes"}}, "space.yaml: searcher.name: the 'cmaes' sampler needs")
    )


@pytest.mark.parametrize(("change", "expected"), MALFORMED, ids=[str(c) for c, _ in MALFORMED])
def test_each_malformed_space_is_rejected_naming_the_path(change, expected):
    data = {**BASE, **change}
    with pytest.raises(ConfigError) as info:
        parse_space(data, "space.yaml")
    assert info.value.source == "space.yaml"
    assert any(line.startswith(expected) for line in str(info.value).splitlines()), str(info.value)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        """\
        name: t
        n_epochs: 3
        metric: score
        mode: up
        asha: {grace_period: 5}
        searcher: {name: tpe, seeed: 1}
        search: {learning_rate: {lr: -1}}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert [p.path for p in info.value.problems] == [
        "mode",
        "search.learning_rate.lr",
        "searcher.seeed",
    ]
    assert all(line.startswith(f"{path}: ") for line in str(info.value).splitlines())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "is not valid YAML at line 2, column 1"),
        ("- a\n- b\n", "is a list, but must be a mapping of settings"),
        ("", "is empty, but must be a mapping of settings"),
    ],
)
def test_files_that_are_not_a_mapping_are_rejected(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_space(tmp_path / "nope.yaml")


def test_sampled_problems_are_told_once_per_path_with_their_share():
    data = {**BASE, "search": {"settings": {"alpha": {"uniform": [0.5, 1.5]}}}}
    samples = sample_configs(SpaceFile.model_validate(data), n=20, seed=0)
    bad = [i for i, config in enumerate(samples) if config["alpha"] > 1]
    assert 0 < len(bad) < 20
    with pytest.raises(ConfigError) as info:
        parse_space(data)
    (problem,) = info.value.problems
    assert problem.path == "search.settings.alpha"
    assert problem.message.startswith(f"is {samples[bad[0]]['alpha']!r}, but")
    assert problem.message.endswith(f"(in {len(bad)} of 20 sampled configs, e.g. #{bad[0]})")
