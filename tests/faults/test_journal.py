"""A damaged or concurrently written Optuna journal, for real: garbage, blank and NUL lines,
unknown operations, a missing journal, a journal cut short, readers racing a writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.tuner.cluster_driver import REPO
from tests.tuner.spaces import toy_space
from tests.tuner.toy import score
from tuner.api import resume, run_space
from tuner.cli import FAILURE, OK, main
from tuner.experiment import create_experiment, load_experiment
from tuner.storage import JOURNAL, open_storage

XS = (0.3, 0.1, 0.7, 0.5)


def _folder(tmp_path: Path, name: str = "hand") -> Path:
    """An experiment folder made without Ray: its record, and a journal with one COMPLETE
    trial per x in `XS` (value score(x, 6), 6 intermediate values, config and Ray id)."""
    space = toy_space(tmp_path, tmp_path / "results", name=name)
    (tmp_path / "results").mkdir(exist_ok=True)
    experiment = create_experiment(
        space, name=name, storage_path=tmp_path / "results", metric="score", mode="min", max_t=6
    )
    study = experiment_study(experiment.dir, create=True)
    for i, x in enumerate(XS):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("ray_trial_id", f"t{i}")
        trial.set_user_attr("config", {"x": x, "n_epochs": 6})
        for epoch in range(1, 7):
            trial.report(score(x, epoch), epoch)
        study.tell(trial, score(x, 6))
    return experiment.dir


def experiment_study(exp_dir: Path, create: bool = False):
    import optuna

    experiment = load_experiment(exp_dir)
    storage = open_storage(experiment.optuna_storage, writable=True)
    if create:
        return optuna.create_study(study_name=experiment.study_name, storage=storage)
    return optuna.load_study(study_name=experiment.study_name, storage=storage)


def _best(exp_dir: Path) -> subprocess.CompletedProcess:
    """`python -m tuner best DIR --format json` in its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "tuner", "best", str(exp_dir), "--format", "json", "--k", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _ranked(out: str) -> list[tuple[str, float]]:
    return [(e["trial_id"], e["score"]) for e in json.loads(out)]


EXPECTED = sorted(((f"t{i}", score(x, 6)) for i, x in enumerate(XS)), key=lambda e: e[1])

#: damage inserted after line 10 of the journal: (bytes, what the warning says)
DAMAGE = {
    "garbage": (b"this is not json {{{\n", "not a JSON record"),
    "blank lines": (b"\n\n   \n", "blank line"),
    "nul bytes": (b"\0" * 300 + b"\n", "NUL bytes"),
    "unknown op": (b'{"op_code": 42, "worker_id": "w"}\n', "unknown operation (op_code 42)"),
    "op lacking a field": (
        b'{"op_code": 7, "worker_id": "w", "step": 3}\n',
        "operation 7 lacks trial_id, intermediate_value",
    ),
    "array": (b"[1, 2, 3]\n", "a JSON list, not a record"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_line_is_skipped_with_file_and_line_and_every_record_kept(
    tmp_path: Path, kind: str
) -> None:
    exp_dir = _folder(tmp_path)
    journal = exp_dir / JOURNAL
    lines = journal.read_bytes().splitlines(keepends=True)
    damage, said = DAMAGE[kind]
    journal.write_bytes(b"".join(lines[:10]) + damage + b"".join(lines[10:]))
    before = journal.read_bytes()
    done = _best(exp_dir)
    assert done.returncode == OK, done.stderr
    assert _ranked(done.stdout) == EXPECTED
    assert f"{journal} line 11: {said}" in done.stderr
    assert "Traceback" not in done.stderr and "JSONDecodeError" not in done.stderr
    assert journal.read_bytes() == before  # a reader changes nothing
    # a writer goes on after the damage: the new record reads back, the old ones too
    study = experiment_study(exp_dir)
    trial = study.ask()
    trial.set_user_attr("ray_trial_id", "t9")
    trial.set_user_attr("config", {"x": 0.0})
    study.tell(trial, -1.0)
    again = _best(exp_dir)
    assert _ranked(again.stdout)[0] == ("t9", -1.0)
    assert len(_ranked(again.stdout)) == len(XS) + 1


def test_a_damaged_record_loses_only_its_own_value(tmp_path: Path) -> None:
    """NUL bytes where a record was (a write lost in a crash): that intermediate value is
    gone, named by line; every other record and value is kept."""
    exp_dir = _folder(tmp_path)
    journal = exp_dir / JOURNAL
    lines = journal.read_bytes().splitlines(keepends=True)
    hit = next(
        i for i, line in enumerate(lines) if json.loads(line).get("step") == 3
    )  # trial t0's epoch 3
    lines[hit] = b"\0" * (len(lines[hit]) - 1) + b"\n"
    journal.write_bytes(b"".join(lines))
    study = load_experiment(exp_dir).load_study()
    first = study.trials[0]
    assert sorted(first.intermediate_values) == [1, 2, 4, 5, 6]
    assert first.value == pytest.approx(score(XS[0], 6), rel=1e-12)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * len(XS)
    assert [sorted(t.intermediate_values) for t in study.trials[1:]] == [[1, 2, 3, 4, 5, 6]] * 3


def test_a_missing_journal_is_named_not_a_key_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    exp_dir = _folder(tmp_path)
    (exp_dir / JOURNAL).unlink()
    (exp_dir / f"{JOURNAL}.lock").unlink()
    for command in (["best", str(exp_dir)], ["export", str(exp_dir)], ["resume", str(exp_dir)]):
        assert main(command) == FAILURE
        err = capsys.readouterr().err
        assert f"{exp_dir / JOURNAL}: the Optuna journal is missing" in err, err
        assert "KeyError" not in err and "Traceback" not in err
    assert not (exp_dir / JOURNAL).exists()  # never created by a reader
    assert not (exp_dir / f"{JOURNAL}.lock").exists()


def test_a_journal_without_the_study_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    exp_dir = _folder(tmp_path)
    (exp_dir / JOURNAL).write_bytes((exp_dir / JOURNAL).read_bytes().splitlines(True)[1:][0])
    assert main(["best", str(exp_dir)]) == FAILURE
    err = capsys.readouterr().err
    assert "holds no study" in err and str(exp_dir / JOURNAL) in err
    assert "Traceback" not in err


def test_torn_tail_is_cut_only_under_the_writers_lock(tmp_path: Path) -> None:
    """A writer opening a journal with a torn last line waits for the lock another process
    holds before cutting it; a reader never cuts it."""
    exp_dir = _folder(tmp_path)
    journal = exp_dir / JOURNAL
    intact = journal.read_bytes()
    journal.write_bytes(intact + b'{"op_code": 7, "worker_id": "half')
    torn = journal.read_bytes()
    script = (
        "import sys, time; from tuner.storage import FlockLock; "
        "lock = FlockLock(sys.argv[1] + '.lock'); lock.acquire(); print('held', flush=True); "
        "time.sleep(float(sys.argv[2])); lock.release()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(journal), "3"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert holder.stdout.readline().strip() == "held"
    opened: list[float] = []
    start = time.monotonic()
    writer = threading.Thread(
        target=lambda: (open_storage(str(journal), writable=True), opened.append(time.monotonic()))
    )
    writer.start()
    time.sleep(1.5)
    assert not opened and journal.read_bytes() == torn  # still waiting for the lock
    assert load_experiment(exp_dir).load_study().trials  # a reader meanwhile: reads, cuts nothing
    assert journal.read_bytes() == torn
    writer.join(timeout=60)
    holder.wait(timeout=30)
    assert opened and opened[0] - start >= 2.5
    assert journal.read_bytes() == intact


_WRITER = """
import sys, optuna
from tuner.experiment import load_experiment
from tuner.storage import open_storage
experiment = load_experiment(sys.argv[1])
storage = open_storage(experiment.optuna_storage, writable=True)
study = optuna.load_study(study_name=experiment.study_name, storage=storage)
print("writing", flush=True)
for i in range(int(sys.argv[2])):
    trial = study.ask()
    trial.set_user_attr("ray_trial_id", f"w{i}")
    trial.set_user_attr("config", {"i": i, "pad": "x" * 200_000})  # writes of ~200 KB
    study.tell(trial, float(i))
"""

_READER = """
import sys
from tuner.results import best_text
n = 0
while True:
    best_text(sys.argv[1], k=1, fmt="json")
    n += 1
    print(n, flush=True)
"""


def test_readers_opening_best_while_a_writer_writes_lose_no_record(tmp_path: Path) -> None:
    """Six processes open `best` over and over while a writer process appends 120 records of
    ~200 KB (each write spans many pages, so readers see lines half written): every record
    the writer wrote is in the journal afterwards, whole."""
    exp_dir = _folder(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(exp_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    try:
        for reader in readers:  # each has opened `best` once before the writer starts
            assert reader.stdout.readline().strip() == "1", reader.stderr.read()
        writer = subprocess.run(
            [sys.executable, "-c", _WRITER, str(exp_dir), "120"],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert writer.returncode == 0, writer.stderr[-2000:]
    finally:
        for reader in readers:
            reader.kill()
    opens = 0
    for reader in readers:
        out, err = reader.communicate(timeout=30)
        counts = [int(line) for line in out.split()]
        opens += counts[-1] if counts else 0
        assert "Traceback" not in err, err[-2000:]
    study = load_experiment(exp_dir).load_study()
    written = [t for t in study.trials if str(t.user_attrs.get("ray_trial_id")).startswith("w")]
    assert [t.value for t in written] == [float(i) for i in range(120)]
    assert all(t.state == TrialState.COMPLETE for t in written)
    lines = (exp_dir / JOURNAL).read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line) for line in lines[:-1])
    assert opens > 12, opens  # readers really raced the writer


@pytest.mark.slow
def test_a_journal_cut_at_60_percent_is_not_resumed_silently(
    ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A real sweep's journal cut at 60 % of its bytes: `resume` refuses, naming the Ray
    trials whose records are gone; `best` still shows what is recorded."""
    path = toy_space(tmp_path, tmp_path / "results", name="cut", num_samples=4, asha=None)
    (tmp_path / "results").mkdir()
    outcome = run_space(path)
    exp_dir = outcome.experiment.dir
    journal = exp_dir / JOURNAL
    data = journal.read_bytes()
    journal.write_bytes(data[: int(len(data) * 0.6)])
    kept = load_experiment(exp_dir).load_study().trials
    ray_ids = {p.name for p in exp_dir.iterdir() if (p / "result.json").is_file()}
    recorded = {t.user_attrs.get("ray_trial_id") for t in kept}
    lost = ray_ids - recorded
    assert lost, "the cut removed no whole record"
    before = journal.read_bytes()
    assert main(["resume", str(exp_dir)]) == FAILURE
    err = capsys.readouterr().err
    assert "records are lost" in err and "Traceback" not in err
    for trial_id in lost:
        assert f"Ray trial {trial_id} (TERMINATED) has no Optuna record" in err
    assert journal.read_bytes() == before  # refused before anything was written
    assert main(["best", str(exp_dir)]) == OK


@pytest.mark.slow
def test_a_resume_over_a_damaged_line_goes_on_and_keeps_every_record(
    ray_local: None, tmp_path: Path
) -> None:
    """A real sweep's journal with a garbage line and a blank line: resume warns, runs, and
    the study keeps every record with its true value."""
    path = toy_space(tmp_path, tmp_path / "results", name="dmg", num_samples=3, asha=None)
    (tmp_path / "results").mkdir()
    outcome = run_space(path)
    exp_dir = outcome.experiment.dir
    journal = exp_dir / JOURNAL
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:5]) + b"garbage\n\n" + b"".join(lines[5:]))
    before = [(t.number, t.state, t.value) for t in outcome.experiment.load_study().trials]
    again = resume(exp_dir)
    assert [(t.number, t.state, t.value) for t in again.experiment.load_study().trials] == before
    assert all(
        t.value == pytest.approx(score(t.params["x"], 6), rel=1e-12)
        for t in again.experiment.load_study().trials
    )
