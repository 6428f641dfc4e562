"""README.md's code runs as printed.

Conventions (stated in the README's Tests section): every ```python block runs unless the line
above it is `<!-- readme: skip (why) -->`; a block whose first line is `# file: PATH` is written
to PATH, and the sweep the written files make is run end to end; ```yaml blocks must parse;
shell blocks are not run.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from optuna.trial import TrialState

from tuner.experiment import load_experiment

REPO = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>\w*)\n(?P<code>.*?)\n```", re.DOTALL)
_FILE = re.compile(r"^# file: (\S+)")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    skipped: bool
    line: int

    @property
    def file(self) -> str | None:
        match = _FILE.match(self.code)
        return match.group(1) if match else None


def readme_blocks() -> list[Block]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [
        Block(
            m.group("lang"),
            m.group("code"),
            m.group("before").startswith("<!-- readme: skip"),
            text[: m.start("code")].count("\n") + 1,
        )
        for m in _BLOCK.finditer(text)
    ]


def write_files(folder: Path) -> list[Path]:
    written = []
    for block in readme_blocks():
        if block.file and not block.skipped:
            path = folder / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.parent / "__init__.py").touch() if path.suffix == ".py" else None
            path.write_text(block.code + "\n", encoding="utf-8")
            written.append(path)
    return written


def test_every_python_block_is_run_or_marked() -> None:
    """A Python block is a file the sweep test below runs, or is marked as not meant to run."""
    python = [b for b in readme_blocks() if b.lang == "python"]
    assert python and all(b.skipped or b.file for b in python), [b.line for b in python]
    files = {b.file for b in readme_blocks() if b.file and not b.skipped}
    assert files == {"mypkg/train.py", "space.yaml"}


def test_every_yaml_block_parses() -> None:
    for block in readme_blocks():
        if block.lang == "yaml":
            assert isinstance(yaml.safe_load(block.code), dict), f"README.md:{block.line}"


def test_the_own_model_trainable_runs_plainly(tmp_path: Path, monkeypatch) -> None:
    write_files(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name in [m for m in sys.modules if m == "mypkg" or m.startswith("mypkg.")]:
        monkeypatch.delitem(sys.modules, name)
    train = importlib.import_module("mypkg.train").train
    assert train.groups == ("body", "head")
    train({"n_epochs": 2, "layers": "auto", "learning_rate": {"body": 1e-2, "head": 2e-2}})


@pytest.mark.slow
def test_the_own_model_sweep_runs_as_printed(tmp_path: Path) -> None:
    write_files(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(REPO)])
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "run", "space.yaml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    experiment = load_experiment(tmp_path / "results" / "mymodel")
    trials = experiment.load_study().trials
    assert len(trials) == 4
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert all(set(t.user_attrs["config"]["learning_rate"]) == {"body", "head"} for t in trials)
