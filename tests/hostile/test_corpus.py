"""The hostile-input corpus: every case is refused with exit 2, before Ray and before writing.

All cases go through the CLI's entry point (`tuner.cli.main`, `validate` and `run`) in one fresh
process (`tests.hostile.runner`), so that "no Ray" can be read off that process: `ray` never
imported, no child process, no Ray session folder. A sample goes through real
`python -X importtime -m tuner ...` processes too, whose import log shows that `ray` was never
imported. For each: exit 2; every line of the error names the file, at most `MAX_LINE`
characters, at most 51 lines; the error holds the case's dotted path and reason; no traceback;
nothing written; under 5 s (in-process wall time; for a whole process its CPU time, which the
machine's other load does not inflate).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.cases_files import file_cases
from tests.hostile.cases_trainable import trainable_cases
from tests.hostile.corpus import Case, write_corpus
from tuner.cli import BAD_INPUT

REPO = Path(__file__).resolve().parents[2]
CASES = {case.name: case for case in trainable_cases() + file_cases()}
#: longest line a refusal may print (path, message and fix are each bounded)
MAX_LINE = 1800
#: cases also run as real processes: one of each kind, `run` for a few
PROCESS_SAMPLE = [
    ("stdlib_22", "run"),
    ("fixed_dictconfig", "run"),
    ("module_syntax", "validate"),
    ("module_problems_raise", "validate"),
    ("duplicate_top", "validate"),
    ("seed_3", "validate"),
    ("kind_fifo", "run"),
    ("kind_dev_zero", "validate"),
    ("size_sparse_50mb", "validate"),
    ("deep_brackets", "validate"),
]


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CASES) == len(trainable_cases() + file_cases()) >= 150


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The written corpus: its folder and its manifest."""
    folder = tmp_path_factory.mktemp("hostile")
    return folder, write_corpus(list(CASES.values()), folder)


def _snapshot(folder: Path) -> list[str]:
    paths = (p for p in folder.rglob("*") if "__pycache__" not in p.parts)
    return sorted(str(p.relative_to(folder)) for p in paths)


@pytest.fixture(scope="module")
def report(corpus: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case through `tuner.cli.main` in one fresh process; its results by (case, command)."""
    folder, manifest = corpus
    scratch = tmp_path_factory.mktemp("hostile_run")
    ray_tmp, out = scratch / "ray", scratch / "out.json"
    before = _snapshot(folder)
    command = [sys.executable, "-m", "tests.hostile.runner", str(manifest), str(out)]
    subprocess.run(command, cwd=folder, env=_env(ray_tmp), check=True, timeout=600)
    report = json.loads(out.read_text())
    assert report["children"] == []  # no Ray process, nor any other, was started
    assert not ray_tmp.exists()  # no Ray session folder
    assert _snapshot(folder) == before  # nothing written beside the corpus
    return {(r["name"], r["command"]): r for r in report["results"]}


def _env(ray_tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "TUNER_TRACEBACK")}
    env.update(PYTHONPATH=str(REPO), RAY_TMPDIR=str(ray_tmp), TMPDIR=str(ray_tmp.parent))
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    return env


def check_refusal(case: Case, file: str, code: Any, err: str, out: str) -> None:
    """Exit 2, one bounded line per problem naming the file, the case's fragments, no traceback."""
    assert code == BAD_INPUT, (case.name, code, err[-2000:], out[-500:])
    assert "Traceback" not in err + out, case.name
    lines = err.rstrip("\n").split("\n")
    assert lines and all(line.startswith(f"{file}: ") for line in lines), (case.name, err[:3000])
    assert len(lines) <= 51 and max(map(len, lines)) <= MAX_LINE, (case.name, err[:3000])
    for fragment in case.expect:
        assert fragment in err, (case.name, fragment, err[:3000])


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_refused_before_ray_and_writes_nothing(
    name: str, report: dict[str, Any]
) -> None:
    case = CASES[name]
    for command in case.commands:
        result = report[(name, command)]
        check_refusal(case, result["file"], result["code"], result["stderr"], result["stdout"])
        assert result["seconds"] < 5, (name, command, result["seconds"])
        assert result["imported"] == [], (name, command, result["imported"])
        assert not result["ray_imported"], (name, command)
        assert not result["written"], (name, command)


@pytest.mark.parametrize(("name", "command"), PROCESS_SAMPLE)
def test_a_sample_is_refused_by_real_processes_without_importing_ray(
    name: str, command: str, corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    folder, manifest = corpus
    (entry,) = [c for c in json.loads(manifest.read_text())["cases"] if c["name"] == name]
    env = _env(tmp_path / "ray")
    env["PYTHONPATH"] += os.pathsep + json.loads(manifest.read_text())["modules"]
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tuner", command, entry["file"]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    wall = time.perf_counter() - start
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)
    imports = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    err = "".join(f"{line}\n" for line in done.stderr.splitlines() if line not in imports)
    check_refusal(CASES[name], entry["file"], done.returncode, err, done.stdout)
    assert len(imports) > 100  # the import log is there: what it lacks is meaningful
    assert not [line for line in imports if re.search(r"\|\s+ray(\.|$)", line)], name
    assert not (tmp_path / "ray").exists() and not Path(entry["results"]).exists()
    assert os.listdir(tmp_path) == []
    assert cpu < 5, (name, command, f"{cpu:.2f} s CPU", f"{wall:.2f} s wall")
