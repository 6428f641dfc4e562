"""The experiment folder `results/<name>/`: its paths, its Optuna study, its record on disk.

`create_experiment` makes the folder (an existing, non-empty `results/quickstart` is refused by
`experiment_dir_problems` before Ray starts, so no earlier result is ever overwritten or mixed
with a new sweep: `resume` it, or choose another name), copies the space file into it verbatim
and writes `experiment.json` (study name, storage URL, metric, mode, max_t and the
command-line overrides), which is all `resume`, `best` and the exports need. The default
storage, the journal `optuna.journal` in the folder (`tuner.storage`), is recorded as null and
found relative to the folder, so a copied or moved results folder still answers `best`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

from trainables.lr.errors import ConfigError, Problem
from tuner.storage import default_storage, open_storage

RECORD = "experiment.json"
SPACE_COPY = "space.yaml"


@dataclass(frozen=True)
class Experiment:
    """One sweep's folder and the facts every later command needs."""

    dir: Path
    study_name: str
    optuna_storage: str
    metric: str
    mode: str
    max_t: int
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def space_file(self) -> Path:
        return self.dir / SPACE_COPY

    def load_study(self) -> optuna.Study:
        """The experiment's Optuna study (needs no running Ray)."""
        storage = open_storage(self.optuna_storage)
        return optuna.load_study(study_name=self.study_name, storage=storage)


def experiment_dir(storage_path: str | Path, name: str) -> Path:
    """The folder of experiment `name` under the results root `storage_path`."""
    return Path(storage_path).expanduser().resolve() / name


def is_taken(exp_dir: Path) -> bool:
    """Whether `exp_dir` already holds something (an earlier sweep, or anything else)."""
    return exp_dir.is_dir() and any(exp_dir.iterdir())


def storage_problems(storage_path: str | Path) -> list[Problem]:
    """Why the results root cannot hold a new experiment folder, checked before Ray starts."""
    if "://" in str(storage_path):
        message = (
            f"is {str(storage_path)!r}, a URI, but a sweep's folder (its study, Ray's experiment "
            "state, checkpoints, tables) must be a path"
        )
        fix = "on a cluster, pass a folder on a filesystem every node mounts at the same path"
        return [Problem("storage_path", message, fix)]
    root = Path(storage_path).expanduser()
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = "pass a folder you can write to with --storage-path, or fix its permissions"
    if not existing.is_dir():
        return [Problem("storage_path", f"is {str(root)!r}, but {existing} is not a folder", fix)]
    try:  # a real write: permission bits do not tell root, read-only mounts or full disks
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        message = f"is {str(root)!r}, but {existing} is not writable ({error.strerror})"
        return [Problem("storage_path", message, fix)]
    return []


def taken_problem(exp_dir: Path) -> Problem:
    """The refusal to start a new sweep in a folder that already holds one."""
    command = f"python -m tuner resume {exp_dir}"
    return Problem(
        "name",
        f"is {exp_dir.name!r}, but {exp_dir} already holds an experiment",
        f"continue it with `{command}` (or `run --resume`), or choose another --name",
    )


def create_experiment(
    source: Path,
    *,
    name: str,
    storage_path: str | Path,
    metric: str,
    mode: str,
    max_t: int,
    optuna_storage: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Experiment:
    """Make the experiment folder, copy `source` (the space file) into it, record the facts."""
    exp_dir = experiment_dir(storage_path, name)
    if is_taken(exp_dir):
        raise ConfigError([taken_problem(exp_dir)], source=str(source))
    exp_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, exp_dir / SPACE_COPY)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    experiment = Experiment(
        dir=exp_dir,
        study_name=f"{exp_dir.name}-{stamp}",
        optuna_storage=optuna_storage or default_storage(exp_dir),
        metric=metric,
        mode=mode,
        max_t=max_t,
        overrides=dict(overrides or {}),
    )
    record = {k: v for k, v in asdict(experiment).items() if k != "dir"}
    record["optuna_storage"] = optuna_storage  # null: the folder's own journal, wherever it is
    (exp_dir / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return experiment


def load_experiment(path: str | Path) -> Experiment:
    """The experiment recorded in folder `path`; a ConfigError when it is not one."""
    exp_dir = Path(path).expanduser().resolve()
    record_file = exp_dir / RECORD
    if not record_file.is_file():
        raise ConfigError(
            [
                Problem(
                    "",
                    f"{exp_dir} is not an experiment folder (no {RECORD})",
                    "pass the folder a `python -m tuner run` created, e.g. results/quickstart",
                )
            ],
            source=str(path),
        )
    record = json.loads(record_file.read_text())
    record["optuna_storage"] = record.get("optuna_storage") or default_storage(exp_dir)
    return Experiment(dir=exp_dir, **record)
