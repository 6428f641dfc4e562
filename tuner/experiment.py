"""The experiment folder `results/<name>/`: its paths, its Optuna study, its record on disk.

`create_experiment` makes the folder (an existing, non-empty `results/quickstart` is refused
before Ray starts, so no earlier result is ever overwritten or mixed with a new sweep: `resume`
it, or choose another name; of two callers creating the same experiment at once exactly one
succeeds, as `experiment.json` is published with an exclusive link), writes `experiment.json`
(study name, storage URL, metric, mode, max_t and the command-line overrides), copies the space
file into it verbatim, which is all `resume`, `best` and the exports need. The default
storage, the journal `optuna.journal` in the folder (`tuner.storage`), is recorded as null and
found relative to the folder, so a copied or moved results folder still answers `best`; a
path there is refused (only null or a database URL is valid), so a record can never make a
command read or write a file outside its folder. The trainable's parameter groups are recorded
too, so that reading commands never import the module a space file names.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna

from trainables.lr.errors import ConfigError, Problem, TunerError
from tuner.storage import default_storage, is_url, open_storage

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
    #: the trainable's parameter groups, as the sweep resolved them (None: not recorded)
    group_names: tuple[str, ...] | None = None
    #: trials the study held when the sweep was last grown (`tuner.growth`); 0 if never
    grown_from: int = 0

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def space_file(self) -> Path:
        return self.dir / SPACE_COPY

    def load_study(self, writable: bool = False) -> optuna.Study:
        """The experiment's Optuna study (needs no running Ray); read-only unless `writable`:
        then nothing on disk is created or changed (`tuner.storage`)."""
        storage = open_storage(self.optuna_storage, writable=writable)
        where = self.optuna_storage
        try:
            return optuna.load_study(study_name=self.study_name, storage=storage)
        except KeyError:
            message = f"{where}: holds no study {self.study_name!r} (its records are gone)"
        except (AssertionError, IndexError, TypeError, ValueError) as error:
            message = f"{where}: a record Optuna cannot replay ({type(error).__name__}: {error})"
        raise TunerError(message[:500])


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
    group_names: tuple[str, ...] | None = None,
) -> Experiment:
    """Make the experiment folder, copy `source` (the space file) into it, record the facts."""
    exp_dir = experiment_dir(storage_path, name)
    if is_taken(exp_dir):
        raise ConfigError([taken_problem(exp_dir)], source=str(source))
    exp_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    experiment = Experiment(
        dir=exp_dir,
        study_name=f"{exp_dir.name}-{stamp}",
        optuna_storage=optuna_storage or default_storage(exp_dir),
        metric=metric,
        mode=mode,
        max_t=max_t,
        overrides=dict(overrides or {}),
        group_names=tuple(group_names) if group_names is not None else None,
    )
    record = {k: v for k, v in asdict(experiment).items() if k != "dir"}
    record["optuna_storage"] = optuna_storage  # null: the folder's own journal, wherever it is
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    if not _claim(exp_dir / RECORD, text):  # another caller created it first
        raise ConfigError([taken_problem(exp_dir)], source=str(source))
    shutil.copyfile(source, exp_dir / SPACE_COPY)
    return experiment


def _claim(record_file: Path, text: str) -> bool:
    """Write `record_file` whole, only if it does not exist yet: of two callers, exactly one
    succeeds (`os.link` of a finished temporary file fails when the name exists)."""
    temporary = record_file.with_name(f".{record_file.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    try:
        os.link(temporary, record_file)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def discard_experiment(experiment: Experiment) -> None:
    """Remove what `create_experiment` wrote (the sweep never started), the folder if empty."""
    for name in (RECORD, SPACE_COPY):
        (experiment.dir / name).unlink(missing_ok=True)
    try:
        experiment.dir.rmdir()
    except OSError:
        pass


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
    record = _read_record(record_file)
    record["optuna_storage"] = record.get("optuna_storage") or default_storage(exp_dir)
    groups = record.get("group_names")
    record["group_names"] = tuple(groups) if groups is not None else None
    return Experiment(dir=exp_dir, **record)


#: experiment.json's fields and their types (group_names and grown_from are optional: older
#: folders lack them)
_FIELDS = {
    "study_name": str,
    "optuna_storage": (str, type(None)),
    "metric": str,
    "mode": str,
    "max_t": int,
    "overrides": dict,
}


def _read_record(record_file: Path) -> dict[str, Any]:
    """experiment.json as a dict of known, well-typed fields; a ConfigError naming the field
    otherwise. `optuna_storage` must be null (the folder's journal) or a database URL."""
    source = str(record_file)
    fix = "the folder's experiment.json is damaged: restore it from the folder it came from"
    try:
        record = json.loads(record_file.read_bytes())
    except (OSError, ValueError) as error:
        problem = Problem("", f"cannot be read ({str(error)[:100]})", fix)
        raise ConfigError([problem], source) from None
    if not isinstance(record, dict):
        raise ConfigError([Problem("", "is not a JSON object", fix)], source)
    problems = [
        Problem(name, f"is {str(record.get(name))[:60]!r}, not a {_type_name(kind)}", fix)
        for name, kind in _FIELDS.items()
        if not isinstance(record.get(name), kind) or isinstance(record.get(name), bool)
    ]
    storage = record.get("optuna_storage")
    if isinstance(storage, str) and not is_url(storage):
        message = f"is {storage[:100]!r}, but must be null (the folder's own optuna.journal)"
        problems.append(Problem("optuna_storage", message + " or a database URL", fix))
    groups = record.get("group_names")
    if groups is not None and not (
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
    ):
        problems.append(Problem("group_names", "is not a list of names", fix))
    grown = record.get("grown_from", 0)
    if not isinstance(grown, int) or isinstance(grown, bool) or grown < 0:
        problems.append(Problem("grown_from", f"is {str(grown)[:60]!r}, not a count", fix))
    if problems:
        raise ConfigError(problems, source)
    optional = ("group_names", "grown_from")
    return {name: record[name] for name in (*_FIELDS, *optional) if name in record}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
