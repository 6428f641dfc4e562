"""Hostile input: every malformed space file and trainable config is refused before Ray starts.

A corpus of hand-written and systematically broken files (`tests.tuner.cluster_hostile`) goes
through `python -m tuner run` in one fresh process: each exits 2 with an error naming the file
and the offending path, no traceback, and afterwards Ray is not initialized, no process was
started and no results folder exists. Hypothesis adds generated broken files on top.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import ray
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tuner.cluster_hostile import BASE, with_value, write_corpus
from tuner.cli import BAD_INPUT, main

REPO = Path(__file__).resolve().parents[2]


def test_corpus_is_refused_before_any_ray_process(tmp_path: Path) -> None:
    cases = write_corpus(tmp_path)
    assert len(cases) >= 200
    out = tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    code = [sys.executable, "-m", "tests.tuner.cluster_hostile", str(tmp_path), str(out)]
    subprocess.run(code, cwd=tmp_path, env=env, check=True, timeout=600)
    report = json.loads(out.read_text())
    by_file = {r["file"]: r for r in report["results"]}
    assert len(by_file) == len(cases)
    for path, fragments in cases:
        result = by_file[str(path)]
        err = result["stderr"]
        assert result["code"] == BAD_INPUT, (path.name, err, result["out"][-500:])
        assert "Traceback" not in err and "Traceback" not in result["out"], path.name
        lines = err.strip().splitlines()
        assert lines and all(line.startswith(f"{path}: ") for line in lines), (path.name, err)
        assert all(fragment in err for fragment in fragments), (path.name, fragments, err)
    assert report["ray_initialized"] is False
    assert report["children"] == []
    assert not (tmp_path / "results-never-written").exists()


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> list:
    """Records every attempt to start or connect to Ray."""
    calls: list = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append((a, k)))
    return calls


_FIXTURES = [HealthCheck.function_scoped_fixture]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_KNOWN = {*BASE, "max_concurrent_trials", "fixed", "resources", "checkpoint_every"}
_KNOWN |= {"keep_checkpoints", "max_failures", "optuna_storage", "address"}
_junk = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=3)
)
_BROKEN: list[st.SearchStrategy[tuple[str, Any]]] = [
    st.tuples(st.just("n_epochs"), st.integers(max_value=0) | st.text(max_size=5)),
    st.tuples(st.just("mode"), st.text(max_size=10).filter(lambda s: s not in ("min", "max"))),
    st.tuples(st.just("num_samples"), st.integers(max_value=0)),
    st.tuples(st.just("name"), st.text(max_size=20).filter(lambda s: not _NAME.match(s))),
    st.tuples(st.just("asha.grace_period"), st.integers(min_value=7) | st.integers(max_value=0)),
    st.tuples(st.just("asha.reduction_factor"), st.floats(max_value=1.0, allow_nan=False)),
    st.tuples(st.just("resources.cpu"), st.floats(max_value=0.0, allow_nan=False)),
    st.tuples(st.just("keep_checkpoints"), st.integers(max_value=1)),
    st.tuples(
        st.sampled_from(["", "searcher.", "asha.", "resources."]).flatmap(
            lambda where: (
                st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)
                .filter(lambda k: k not in _KNOWN | {"name", "seed", "n_startup_trials"})
                .filter(lambda k: k not in {"grace_period", "reduction_factor", "cpu", "gpu"})
                .map(lambda k: where + k)
            )
        ),
        _junk,
    ),
]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=st.one_of(*_BROKEN))
def test_generated_broken_files_are_refused(
    case: tuple[str, Any], tmp_path: Path, no_ray: list, capsys: pytest.CaptureFixture
) -> None:
    key, value = case
    path = tmp_path / "generated.yaml"
    data = with_value({**BASE, "storage_path": str(tmp_path / "results")}, key, value)
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path)]) == BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(line.startswith(f"{path}: ") for line in err.strip().splitlines()), err
    assert key.split(".")[0] in err or key.rsplit(".", 1)[-1] in err, (key, value, err)
    assert no_ray == []
    assert not (tmp_path / "results").exists()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=60))
def test_generated_text_is_refused(
    text: str, tmp_path: Path, no_ray: list, capsys: pytest.CaptureFixture
) -> None:
    """Arbitrary text is never a whole space file: refused, with the file named, no traceback."""
    path = tmp_path / "text.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path)]) == BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(line.startswith(f"{path}: ") for line in err.strip().splitlines()), err
    assert no_ray == []
