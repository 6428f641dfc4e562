"""DSRSettings and dsr_config_problems: defaults, LR keys ignored, every problem at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainables.dsr import DSRSettings, dsr_config_problems, train_dsr
from trainables.dsr.settings import settings_of
from trainables.dsr.trainable import resolve_device
from trainables.lr.errors import ConfigError


def test_defaults() -> None:
    s = DSRSettings()
    assert (s.n_subjects, s.alpha, s.device) == (8, 0.3, "auto")
    assert s.data_path is None


def test_lr_keys_are_left_to_the_lr_library() -> None:
    config = {
        "learning_rate": 1e-3,
        "lr_scheduling": {"name": "StepLR", "hyperparameters": {"step_size": 3}},
        "dsr_subject_multiplier": 5,
        "optimizer": {"name": "AdamW"},
        "n_epochs": 4,
    }
    assert settings_of(config).n_epochs == 4
    assert dsr_config_problems(config) == []


def test_valid_configs_have_no_problems(small_config) -> None:
    assert dsr_config_problems(small_config) == []
    assert dsr_config_problems({}) == []
    alpha = {"initial": 0.2, "name": "ExponentialLR", "hyperparameters": {"gamma": 0.9}}
    assert dsr_config_problems({"alpha": alpha}) == []


def test_every_problem_at_once_with_paths() -> None:
    config = {
        "learning_rate": {"decoder": {"subjects": {"lr": 1e-3}}},
        "n_epochs": 0,
        "batch_sise": 8,
        "alpha": 1.5,
        "device": "tpu",
    }
    problems = dsr_config_problems(config)
    paths = {p.path for p in problems}
    assert {"n_epochs", "batch_sise", "alpha", "device"} <= paths
    assert any(p.path.startswith("learning_rate.decoder") for p in problems)
    text = "\n".join(map(str, problems))
    assert "batch_sise is not a known key" in text
    assert "n_epochs is 0, but input should be greater than or equal to 1" in text


def test_alpha_schedule_problems_named() -> None:
    problems = dsr_config_problems({"alpha": {"initial": 0.3, "name": "StepLRR"}})
    assert [p.path for p in problems] == ["alpha.name"]
    assert "did you mean 'StepLR'" in str(problems[0])
    problems = dsr_config_problems({"alpha": {"initial": 2, "name": "Constant"}})
    assert [str(p) for p in problems] == ["alpha.initial is 2, but must be in [0, 1]: e.g. 0.3"]
    problems = dsr_config_problems({"alpha": -0.5})
    assert [str(p) for p in problems] == ["alpha is -0.5, but must be in [0, 1]: e.g. 0.3"]
    problems = dsr_config_problems({"alpha": "often"})
    assert [p.path for p in problems] == ["alpha"]


def test_bad_config_raises_config_error_before_training() -> None:
    with pytest.raises(ConfigError) as info:
        train_dsr({"n_epochs": -1, "seq_len": 0})
    assert {p.path for p in info.value.problems} == {"n_epochs", "seq_len"}


def test_not_a_mapping() -> None:
    assert "must be a mapping" in str(dsr_config_problems([1, 2])[0])


def test_data_path_problems(tmp_path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, a=np.zeros((30, 3)), b=np.zeros((30, 3)))
    config = {"data_path": str(path), "seq_len": 40, "n_subjects": 3}
    text = "\n".join(map(str, dsr_config_problems(config)))
    assert "n_subjects is 3, but" in text and "has 2" in text
    assert "seq_len is 40, but a training series is shorter than seq_len + 1" in text
    assert "no such file" in str(dsr_config_problems({"data_path": str(tmp_path / "x.npz")})[0])


def test_trains_on_user_npz(tmp_path, small_config) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(400)[:, None] * 0.1
    series = {f"s{i}": np.sin(t * (1 + i) + rng.normal(size=(1, 4))) for i in range(3)}
    path = tmp_path / "user.npz"
    np.savez(path, **series)
    del small_config["n_subjects"]
    small_config.update(data_path=str(path), n_epochs=2)
    reports = train_dsr(small_config)
    assert len(reports) == 2 and reports[-1]["pred_error"] < 10


def test_auto_device_is_cpu_when_no_gpu_is_allowed(small_config) -> None:
    settings = settings_of({**small_config, "device": "auto"})
    assert resolve_device(settings, gpu_allowed=False).type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(settings).type == expected


def test_cuda_without_gpu_is_a_config_error(small_config, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a GPU-less process anywhere
    with pytest.raises(ConfigError, match="device is 'cuda', but no GPU is visible"):
        train_dsr({**small_config, "device": "cuda"})


_INT_KEYS = ("n_epochs", "latent_dim", "hidden_dim", "batch_size", "seq_len", "eval_every")


@settings(max_examples=40, deadline=None)
@given(
    good=st.fixed_dictionaries(
        {},
        optional={
            **{key: st.integers(1, 50) for key in _INT_KEYS},
            "alpha": st.floats(0, 1),
            "grad_clip": st.none() | st.floats(0.1, 100),
            "seed": st.integers(0, 2**31),
            "device": st.sampled_from(["auto", "cpu"]),
        },
    ),
    bad_key=st.sampled_from(_INT_KEYS),
    bad_value=st.integers(-5, 0) | st.text(alphabet="abc", max_size=3) | st.just(None),
)
def test_generated_settings(good: dict, bad_key: str, bad_value: object) -> None:
    settings = settings_of(good)
    assert all(getattr(settings, k) == v for k, v in good.items())
    problems = dsr_config_problems({**good, bad_key: bad_value})
    assert [p.path for p in problems] == [bad_key], problems
