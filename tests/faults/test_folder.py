"""Results folders copied, moved, received from someone else or tampered with, for real.

One sweep is interrupted for real (a `python -m tuner run` driver with its own Ray, Ctrl-C'd
after a trial's second epoch); every test works on a copy of that folder and resumes it on the
test session's Ray. The signing key lives in a test-only `$XDG_CONFIG_HOME` ("me"); another
folder there is "someone else".
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.tuner.cluster_driver import discard, ray_tmpdir, start_cli, wait_until
from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from tuner.api import resume
from tuner.cli import BAD_INPUT, FAILURE, INTERRUPTED, OK, main
from tuner.experiment import load_experiment
from tuner.searcher import RAY_TRIAL_ID
from tuner.trust import SIGNATURE, check_folder

N_SAMPLES, N_EPOCHS = 4, 6
TOY = "tests.tuner.cluster_toy:trainable"


@pytest.fixture(scope="module")
def me(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This user's config folder (their signing key goes there)."""
    home = tmp_path_factory.mktemp("me")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(home))
        yield home


def _midway(exp_dir: Path) -> bool:
    try:
        return any(len(rows) >= 2 for rows in ray_curves(exp_dir).values())
    except ValueError:  # a line being written
        return False


@pytest.fixture(scope="module")
def interrupted(me: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep of 4 toy trials (one at a time) Ctrl-C'd after its first trial's second epoch:
    one trial midway, three never started. Never resumed itself: tests copy it."""
    tmp = tmp_path_factory.mktemp("interrupted")
    results = tmp / "results"
    results.mkdir()
    path = toy_space(
        tmp,
        results,
        name="orig",
        trainable=TOY,
        num_samples=N_SAMPLES,
        max_concurrent_trials=1,
        checkpoint_every=1,
        asha=None,
        fixed={"sleep": 0.4},
    )
    tmpdir = ray_tmpdir()
    driver = start_cli(["run", str(path)], tmpdir, tmp / "driver.log")
    try:
        wait_until(lambda: _midway(results / "orig"), 240, "a trial's second epoch")
        os.kill(driver.pid, signal.SIGINT)
        assert driver.wait(timeout=180) == INTERRUPTED, (tmp / "driver.log").read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=30)
        discard(tmpdir)
    return results / "orig"


def _tree(folder: Path) -> dict[str, str]:
    """Every path under `folder` with its content's digest (folders: '')."""
    out = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return out


def _copy(source: Path, to: Path) -> Path:
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, to, symlinks=True)
    return to


def _check_complete(exp_dir: Path) -> None:
    """All 4 trials COMPLETE with their closed-form values, every epoch recorded once, each
    trial's Ray log in this folder with its 6 epochs."""
    study = load_experiment(exp_dir).load_study()
    assert len(study.trials) == N_SAMPLES
    curves = ray_curves(exp_dir)
    for trial in study.trials:
        x = trial.params["x"]
        assert trial.state == TrialState.COMPLETE
        assert trial.value == pytest.approx(score(x, N_EPOCHS), rel=1e-12)
        assert sorted(trial.intermediate_values) == list(range(1, N_EPOCHS + 1))
        rows = curves[trial.user_attrs[RAY_TRIAL_ID]]
        assert max(r["training_iteration"] for r in rows) == N_EPOCHS


def test_a_copied_folder_resumes_into_the_copy_only(
    ray_local: None, interrupted: Path, tmp_path: Path
) -> None:
    """The copy finishes in itself; the folder it was copied from (the one its pickles name)
    is not changed by one byte. Tests after this one resume other copies of the same folder
    on the same Ray, whose staging folder this resume left its newer state in."""
    copy = _copy(interrupted, tmp_path / "elsewhere" / "orig")
    before = _tree(interrupted)
    outcome = resume(copy)
    assert outcome.ok and outcome.counts["COMPLETE"] == N_SAMPLES
    _check_complete(copy)
    assert _tree(interrupted) == before  # not one byte, not one new file
    assert check_folder(copy) == []  # what the resume saved is signed


def test_a_moved_and_renamed_folder_resumes(
    ray_local: None, interrupted: Path, tmp_path: Path
) -> None:
    first = _copy(interrupted, tmp_path / "first" / "orig")
    moved = tmp_path / "second" / "renamed"
    moved.parent.mkdir()
    first.rename(moved)
    before = _tree(interrupted)
    outcome = resume(moved)
    assert outcome.ok
    _check_complete(moved)
    assert not first.exists()  # nothing written where it was
    assert _tree(interrupted) == before


class _Payload:
    """A pickle that creates `marker` when it is loaded (what a hostile folder would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_a_folder_signed_by_someone_else_is_refused_unless_trusted(
    ray_local: None,
    interrupted: Path,
    tmp_path: Path,
    me: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    received = _copy(interrupted, tmp_path / "received" / "orig")
    marker = tmp_path / "payload-ran"
    (tuner_pkl := received / "tuner.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "someone-else"))
    from tuner.trust import sign_folder

    sign_folder(received)  # the sender signs it with their own key
    monkeypatch.setenv("XDG_CONFIG_HOME", str(me))
    before = _tree(received)
    assert main(["resume", str(received)]) == FAILURE
    err = capsys.readouterr().err
    assert "will not load its saved Ray state" in err and "its signature is not yours" in err
    assert "--trust" in err and "Traceback" not in err
    space = toy_space(tmp_path, received.parent, name="orig", trainable=TOY)
    assert main(["run", str(space), "--resume"]) == FAILURE  # `run --resume` checks the same
    assert "its signature is not yours" in capsys.readouterr().err
    assert not marker.exists() and _tree(received) == before
    # the same folder without the payload, trusted explicitly: resumes, then is signed by me
    shutil.copy2(interrupted / "tuner.pkl", tuner_pkl)
    assert main(["resume", str(received)]) == FAILURE
    assert main(["resume", str(received), "--trust"]) == OK
    _check_complete(received)
    assert check_folder(received) == []


def test_an_altered_pickle_is_never_loaded(
    ray_local: None, interrupted: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """My own folder with a replaced pickle: a live state file replaced is dropped for the
    signed backup (resume goes on from it); `tuner.pkl` or the backup replaced: refused."""
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_Payload(marker))
    folder = _copy(interrupted, tmp_path / "a" / "orig")
    (searcher,) = folder.glob("searcher-state-*.pkl")
    searcher.write_bytes(payload)
    outcome = resume(folder)
    assert outcome.ok and not marker.exists()
    _check_complete(folder)

    for victim in ("tuner.pkl", ".state_backup/searcher-state-*.pkl"):
        folder = _copy(interrupted, tmp_path / victim.replace("/", "_").replace("*", "") / "o")
        (searcher,) = folder.glob("searcher-state-*.pkl")
        (target,) = folder.glob(victim)
        target.write_bytes(payload)
        searcher.write_bytes(payload)
        before = _tree(folder)
        assert main(["resume", str(folder)]) == FAILURE
        err = capsys.readouterr().err
        assert "these files are not signed as they are now" in err
        assert target.relative_to(folder).as_posix() in err
        assert not marker.exists() and _tree(folder) == before


def test_an_unsigned_folder_is_refused(
    interrupted: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = _copy(interrupted, tmp_path / "a" / "orig")
    (folder / SIGNATURE).unlink()
    assert main(["resume", str(folder)]) == FAILURE
    assert "it carries no signature of yours" in capsys.readouterr().err


_EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")

def trainable(config):
    pass
"""


def test_reading_commands_import_no_user_module_and_best_writes_nothing(
    interrupted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy(interrupted, tmp_path / "a" / "orig")
    marker = tmp_path / "imported"
    (tmp_path / "evilmod.py").write_text(_EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    space = folder / "space.yaml"
    space.write_text(space.read_text().replace(TOY, "evilmod:trainable"))
    (folder / "optuna.journal.lock").unlink()
    with open(folder / "optuna.journal", "ab") as journal:
        journal.write(b'{"op_code": 7, "worker_id": "torn')  # a torn last line
    before = _tree(folder)
    for fmt in ("yaml", "json", "table"):
        assert main(["best", str(folder), "--format", fmt]) == OK
    assert _tree(folder) == before  # best wrote nothing: no lock, no cut, no file
    assert main(["export", str(folder)]) == OK
    assert main(["report", str(folder)]) == OK
    assert not marker.exists() and "evilmod" not in sys.modules
    assert load_experiment(folder).group_names  # recorded by `run`, read from experiment.json


def test_best_never_touches_a_file_the_record_points_at(
    interrupted: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = _copy(interrupted, tmp_path / "a" / "orig")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\nno newline at the end")
    record_file = folder / "experiment.json"
    record = json.loads(record_file.read_text())
    cases = [
        (str(victim), BAD_INPUT, "must be null (the folder's own optuna.journal)"),
        (f"sqlite:///{tmp_path / 'new.db'}", FAILURE, "the Optuna database is missing"),
        (f"sqlite:///{victim}", FAILURE, ""),
    ]
    for storage, code, said in cases:
        record_file.write_text(json.dumps({**record, "optuna_storage": storage}))
        assert main(["best", str(folder)]) == code, storage
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err
        assert victim.read_bytes() == b"precious\nno newline at the end"
        assert not (tmp_path / "new.db").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "victim.txt"]


def test_the_signing_key_is_private_and_outside_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainables.lr.errors import TunerError
    from tuner.trust import key_path, user_key

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    key = user_key()
    path = key_path()
    assert path == tmp_path / "config" / "lr-tuner" / "signing.key"
    assert len(key) == 32 and user_key() == key  # made once, then read back
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    path.chmod(0o644)  # readable by others: anyone could forge signatures with it
    with pytest.raises(TunerError, match="readable by you alone"):
        user_key()


def test_a_journal_that_lost_epochs_of_an_unfinished_trial_is_not_resumed(
    interrupted: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The midway trial's epoch-1 value cut from the journal: `resume` refuses, naming the
    trial and the epoch, before anything is written (it would resume a record without it)."""
    folder = _copy(interrupted, tmp_path / "a" / "orig")
    journal = folder / "optuna.journal"
    lines = journal.read_bytes().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line).get("step") != 1]
    assert len(kept) == len(lines) - 1
    journal.write_bytes(b"".join(kept))
    (trial_id,) = {t.user_attrs[RAY_TRIAL_ID] for t in load_experiment(folder).load_study().trials}
    before = _tree(folder)
    assert main(["resume", str(folder)]) == FAILURE
    err = capsys.readouterr().err
    assert f"Ray trial {trial_id} ran" in err and "its record lacks epoch(s) 1 (1 of them)" in err
    assert "Traceback" not in err and _tree(folder) == before
