"""The hostile-input corpus: what a case is, the space file it starts from, and writing it out.

A case is one file (or a FIFO, a directory, a link to a device) given to `python -m tuner
validate` and `run`; each must exit 2 with one line per problem, every line naming the file, and
the error must contain `expect` (the dotted path and the reason). `modules` are Python files
written beside the corpus (importable while it runs); `not_imported` are modules that checking
the file must not import.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: a declared trainable whose module imports no Ray
DECLARED = "tests.hostile.declared:train"
#: the results root every case names; nothing may ever appear there
RESULTS = "@RESULTS@"

BASE: dict[str, Any] = {
    "name": "hostile",
    "trainable": DECLARED,
    "n_epochs": 4,
    "metric": "score",
    "mode": "min",
    "num_samples": 2,
    "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
    "searcher": {"name": "tpe", "seed": 0},
    "asha": {"grace_period": 1, "reduction_factor": 2},
    "storage_path": RESULTS,
}


@dataclass(frozen=True)
class Case:
    """One hostile input and what its refusal must say."""

    name: str
    #: the file's content; None for the `special` kinds
    text: str | bytes | None
    expect: tuple[str, ...]
    #: "fifo", "directory", "missing", "sparse" or a device path to link to
    special: str | None = None
    modules: dict[str, str | bytes] = field(default_factory=dict)
    not_imported: tuple[str, ...] = ()
    commands: tuple[str, ...] = ("validate", "run")


def with_value(key: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """`base` (default `BASE`) with the dotted `key` set to `value`."""
    data = copy.deepcopy(BASE if base is None else base)
    *parents, last = key.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value
    return data


def dump(data: dict[str, Any]) -> str:
    """The YAML text of `data`, in the order written."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10**6)


def base_text(**fields: Any) -> str:
    """`BASE` as YAML with top-level `fields` replaced."""
    return dump({**BASE, **fields})


def write_corpus(cases: list[Case], folder: Path) -> Path:
    """Write every case under `folder` (files, modules/, results root); the manifest's path."""
    files, modules, results = folder / "files", folder / "modules", folder / "results"
    for path in (files, modules):
        path.mkdir(parents=True)
    manifest = []
    for case in cases:
        path = files / f"{case.name}.yaml"
        _write_case(case, path, str(results / case.name))
        for module, source in case.modules.items():
            target = modules / module
            target.parent.mkdir(parents=True, exist_ok=True)
            data = source if isinstance(source, bytes) else source.encode()
            target.write_bytes(data)
        manifest.append(
            {
                "name": case.name,
                "file": str(path),
                "results": str(results / case.name),
                "commands": list(case.commands),
                "not_imported": list(case.not_imported),
            }
        )
    out = folder / "manifest.json"
    out.write_text(json.dumps({"modules": str(modules), "cases": manifest}))
    return out


def _write_case(case: Case, path: Path, results: str) -> None:
    if case.special == "fifo":
        os.mkfifo(path)
    elif case.special == "directory":
        path.mkdir()
    elif case.special == "missing":
        pass
    elif case.special == "loop":
        path.symlink_to(path)
    elif case.special == "sparse":  # 50 MB that takes no disk: its size alone must refuse it
        with open(path, "wb") as sparse:
            sparse.truncate(50 * 1024 * 1024)
    elif case.special is not None:
        path.symlink_to(case.special)
    elif isinstance(case.text, bytes):
        path.write_bytes(case.text)
    else:
        path.write_text(str(case.text).replace(RESULTS, results), encoding="utf-8")
