"""A corpus of malformed space files and trainable configs, and a runner that feeds them to the CLI.

    python -m tests.tuner.cluster_hostile CORPUS_DIR OUT_JSON

`write_corpus(folder)` writes every case as a file and returns `(file, fragment)` pairs: the
CLI's error output must name the file and contain `fragment` (the dotted path or the reason).
The runner calls `tuner.cli.main(["run", file])` for each file in one process, with the real
`ray` imported, and records exit codes, stderr, whether Ray was initialized afterwards and which
child processes exist, so a test can check that no Ray process ever started.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
from pathlib import Path
from typing import Any

import yaml

TOY = "tests.tuner.toy:trainable"

BASE: dict[str, Any] = {
    "name": "hostile",
    "trainable": TOY,
    "n_epochs": 6,
    "metric": "score",
    "mode": "min",
    "num_samples": 4,
    "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
    "searcher": {"name": "tpe", "seed": 0},
    "asha": {"grace_period": 1, "reduction_factor": 2},
    "storage_path": "results-never-written",
}

DSR_BASE: dict[str, Any] = {
    "name": "hostile_dsr",
    "trainable": "dsr",
    "n_epochs": 10,
    "metric": "score",
    "mode": "min",
    "search": {"learning_rate": {"lr": {"log_uniform": [1e-3, 3e-2]}}},
    "storage_path": "results-never-written",
}

#: (dotted key, bad value): each is wrong for that key whatever else the file says
BAD_VALUES: list[tuple[str, Any]] = [
    *[("name", v) for v in ("", "../up", "a b", "/abs", 3, None, [], "x" * 101, ".hidden")],
    *[("n_epochs", v) for v in (0, -1, 1.5, "ten", None, [], {}, "1e999")],
    *[("metric", v) for v in ("", None, 3, [], {})],
    *[("mode", v) for v in ("minimize", "MIN", None, 1, "", [])],
    *[("num_samples", v) for v in (0, -5, "many", 2.5, None, [])],
    *[("max_concurrent_trials", v) for v in (0, -1, "x", 1.5)],
    *[("searcher.name", v) for v in ("tpee", "", 3, "grid")],
    *[("searcher.seed", v) for v in ("abc", 1.5, [])],
    *[("searcher.n_startup_trials", v) for v in (-1, "x")],
    *[("searcher.unknown", v) for v in (1, None)],
    ("searcher", "tpe"),
    ("searcher", []),
    *[("asha.grace_period", v) for v in (0, -1, 99, "x")],
    *[("asha.reduction_factor", v) for v in (1, 0.5, 0, "x")],
    *[("asha.max_t", v) for v in (5, None)],
    ("asha", "yes"),
    ("asha", 3),
    *[("resources.cpu", v) for v in (0, -1, "x")],
    *[("resources.gpu", v) for v in (-1, 1.5, "x")],
    ("resources.tpu", 1),
    ("resources", 4),
    *[("checkpoint_every", v) for v in (-1, "x", 1.5)],
    *[("keep_checkpoints", v) for v in (1, 0, -1)],
    *[("max_failures", v) for v in (-1, "x")],
    *[("storage_path", v) for v in ("", 5, [])],
    *[("optuna_storage", v) for v in ("not a url", 3, "")],
    *[("address", v) for v in ("nowhere", "http://x:1", "ray://host", 7)],
    *[("trainable", v) for v in ("dsrr", "no_such_module_xyz:f", "tests.tuner.toy:nope")],
    *[("trainable", v) for v in ("bad path", "", 3, "os:", ":f")],
    *[("search.settings.x", v) for v in ({"uniform": [1, 0]}, {"uniformm": [0, 1]})],
    ("search.settings.x", {"uniform": "a"}),
    *[("search.settings.x", v) for v in ({"log_uniform": [0, 1]}, {"choice": []})],
    *[("search.settings.x", v) for v in ({"int": [1.5, 3]}, {"uniform": [0]}, {})],
    ("search.settings.n_epochs", 3),
    ("search.unknown", 1),
    ("search", "x"),
    ("search", []),
    ("fixed", "x"),
    ("fixed", [1]),
    ("fixed.n_epochs", 3),
    ("fixed.checkpoint_every", 2),
    ("fixed.x", 0.5),
]

#: bad trainable configs for the DSR benchmark (its settings and the LR config)
BAD_DSR: list[tuple[str, Any]] = [
    *[(f"fixed.{k}", v) for k in ("hidden_dim", "latent_dim", "batch_size") for v in (0, -3, "x")],
    *[("fixed.test_fraction", v) for v in (0, 1, 1.5)],
    *[("fixed.train_steps", v) for v in (1, 0)],
    ("fixed.grad_clip", 0),
    ("fixed.grad_clip", -1.0),
    ("fixed.no_such_setting", 1),
    ("fixed.seed", -1),
    ("fixed.learning_rate", -1.0),
    ("fixed.learning_rate", [1e-3, 1e-2, 1e-1]),
    ("fixed.learning_rate", {"encodr": {"lr": 1e-3}}),
    ("fixed.learning_rate", {"decoder": {"subjects": {"lr": 1e-3}}}),
    ("fixed.learning_rate", {"encoder": {"lr": -1.0}}),
    ("fixed.learning_rate", "fast"),
    ("fixed.lr_scheduling", {"name": "MultiStepLRR"}),
    ("fixed.lr_scheduling", {"name": "MultiStepLR", "hyperparameters": {"milestones": [1.5]}}),
    ("fixed.lr_scheduling", {"name": "ExponentialLR", "hyperparameters": {"gama": 0.9}}),
    ("fixed.lr_scheduling", "cosine"),
    ("search.learning_rate.lr", {"log_uniform": [0, 1]}),
    ("search.learning_rate.lr", {"log_uniform": [1e-2, 1e-3]}),
    ("search.learning_rate.multipliers", {"encodr": {"uniform": [1, 2]}}),
    ("search.learning_rate.freeze_after", {"decoder.subjects": 0.5}),
    ("search.lr_scheduling", {"choice": {"NoSuchLR": {}}}),
    ("search.lr_scheduling", {"choice": {"MultiStepLR": {"gamma": {"uniform": [2, 1]}}}}),
]

#: raw files that are not a readable mapping, or that YAML's safe loader must refuse
RAW: list[tuple[str, str | bytes, str]] = [
    ("empty", "", "is empty"),
    ("list", "- a\n- b\n", "is a list"),
    ("scalar", "just text\n", "is a str"),
    ("number", "42\n", "is a int"),
    ("tabs", "name:\t\n\tx: 1\n", "is not valid YAML"),
    ("unclosed", "name: [a, b\n", "is not valid YAML"),
    ("bad_indent", "name: x\n  n_epochs: 3\n", "is not valid YAML"),
    ("unhashable", "? [a, b]\n: 1\n", "is not valid YAML"),
    ("binary", b"\xff\xfe\x00bad", "is not UTF-8"),
    ("recursive", "a: &a [*a]\n", "refers to itself"),
    ("deep", "a: " + "[" * 200 + "]" * 200 + "\n", "nests deeper"),
    ("python_object", "!!python/object:os.system {}\n", "is not valid YAML"),
    ("python_apply", '!!python/object/apply:os.system ["true"]\n', "is not valid YAML"),
    ("python_new", "!!python/object/new:os.system [true]\n", "is not valid YAML"),
    ("python_name", "name: !!python/name:os.system\n", "is not valid YAML"),
    ("python_module", "name: !!python/module:os\n", "is not valid YAML"),
    ("custom_tag", "name: !secret x\n", "is not valid YAML"),
    ("two_documents", "name: a\n---\nname: b\n", "is not valid YAML"),
]


def _laughs(levels: int) -> str:
    lines = ["l0: &l0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


RAW.append(("billion_laughs", _laughs(10), "more than 100000 values"))


def with_value(base: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """`base` with the dotted `key` set to `value` (missing mappings on the way are created)."""
    data = copy.deepcopy(base)
    *parents, last = key.split(".")
    node = data
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value
    return data


def without(base: dict[str, Any], key: str) -> dict[str, Any]:
    data = copy.deepcopy(base)
    del data[key]
    return data


#: keys checked by the schema itself: several wrong at once are all reported at once
_SCHEMA_KEYS = ("name", "n_epochs", "metric", "mode", "num_samples", "checkpoint_every")
_SCHEMA_KEYS += ("keep_checkpoints", "max_failures")


def _pairs() -> list[tuple[tuple[str, Any], tuple[str, Any]]]:
    """Two schema-level mistakes in one file, each key with each other key."""
    firsts = {key: [v for k, v in BAD_VALUES if k == key][1] for key in _SCHEMA_KEYS}
    return [
        ((a, firsts[a]), (b, firsts[b]))
        for i, a in enumerate(_SCHEMA_KEYS)
        for b in _SCHEMA_KEYS[i + 1 :]
    ]


def write_corpus(folder: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Write every case into `folder`; `(file, fragments its error must contain)` for each."""
    cases: list[tuple[str, Any, tuple[str, ...]]] = []
    for i, (key, value) in enumerate(BAD_VALUES):
        cases.append((f"value_{i:03d}", with_value(BASE, key, value), (key.split(".")[0],)))
    for i, (key, value) in enumerate(BAD_DSR):
        cases.append((f"dsr_{i:03d}", with_value(DSR_BASE, key, value), (key.split(".")[0],)))
    for i, ((k1, v1), (k2, v2)) in enumerate(_pairs()):
        data = with_value(with_value(BASE, k1, v1), k2, v2)
        cases.append((f"pair_{i:03d}", data, (f"{k1} ", f"{k2} ")))
    for key in ("name", "n_epochs", "metric", "mode"):
        cases.append((f"missing_{key}", without(BASE, key), (f"{key} is required",)))
    for key in sorted(BASE):  # a typo of every key, with the right key left out
        typo = key[:-1] if len(key) > 3 else key + "s"
        data = without(BASE, key) if key in ("search", "searcher", "asha") else dict(BASE)
        cases.append((f"typo_{key}", {**data, typo: BASE[key]}, (f"{typo} is not a known key",)))
    out = []
    for name, data, fragments in cases:
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        out.append((path, fragments))
    for name, text, fragment in RAW:
        path = folder / f"raw_{name}.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        out.append((path, (fragment,)))
    return out


def _children(pid: int) -> list[str]:
    """Command lines of the live child processes of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(cmdline)
    return found


def run_corpus(files: list[str]) -> dict[str, Any]:
    """`main(["run", file])` for each file; exit codes, stderr, and Ray's state afterwards."""
    import os

    import ray

    from tuner.cli import main

    results = []
    for file in files:
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(["run", file])
            except SystemExit as exit_:
                code = exit_.code
        results.append(
            {"file": file, "code": code, "stderr": err.getvalue(), "out": out.getvalue()}
        )
    return {
        "results": results,
        "ray_initialized": ray.is_initialized(),
        "children": _children(os.getpid()),
    }


if __name__ == "__main__":
    corpus_dir, out_file = sys.argv[1:3]
    files = sorted(str(p) for p in Path(corpus_dir).glob("*.yaml"))
    Path(out_file).write_text(json.dumps(run_corpus(files)))
