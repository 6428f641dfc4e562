"""Races (issue 16, item 11): two `run`s of one name, two processes creating one experiment.

Real concurrent processes: `create_experiment` callers released together by a barrier, and two
`python -m tuner run` drivers started at once, each with its own Ray folder.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tuner.cluster_driver import REPO, discard, driver_env, ray_tmpdir
from tests.tuner.spaces import toy_space
from trainables.lr.errors import ConfigError
from tuner.experiment import RECORD, SPACE_COPY, create_experiment

ROUNDS, CALLERS = 5, 3


def _create(barrier: object, source: str, root: str, name: str, who: int, results: object) -> None:
    """One caller: wait for the others, then create experiment `name` (records `who`)."""
    barrier.wait()
    try:
        create_experiment(
            Path(source),
            name=name,
            storage_path=root,
            metric="score",
            mode="min",
            max_t=3,
            overrides={"who": who},
        )
        results.put((who, "created"))
    except ConfigError as error:
        results.put((who, str(error)))


def test_of_callers_creating_one_experiment_at_once_exactly_one_succeeds(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    sources = []
    for who in range(CALLERS):
        source = tmp_path / f"space{who}.yaml"
        source.write_text(f"# caller {who}\nname: same\n")
        sources.append(source)
    for round_ in range(ROUNDS):
        name, results = f"same{round_}", context.Queue()
        barrier = context.Barrier(CALLERS)
        callers = [
            context.Process(
                target=_create,
                args=(barrier, str(sources[who]), str(tmp_path), name, who, results),
            )
            for who in range(CALLERS)
        ]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=120)
        outcomes = dict(results.get(timeout=10) for _ in range(CALLERS))
        winners = [who for who, outcome in outcomes.items() if outcome == "created"]
        assert len(winners) == 1, (round_, outcomes)
        for who, outcome in outcomes.items():
            if who != winners[0]:
                assert "already holds an experiment" in outcome, outcome
        folder = tmp_path / name
        record = json.loads((folder / RECORD).read_text())
        assert record["overrides"] == {"who": winners[0]}  # the winner's record, whole
        assert (folder / SPACE_COPY).read_text() == sources[winners[0]].read_text()
        assert sorted(p.name for p in folder.iterdir()) == sorted([RECORD, SPACE_COPY])


@pytest.mark.slow
def test_of_two_runs_of_one_name_the_second_is_refused_before_starting_ray(
    tmp_path: Path, results_dir: Path
) -> None:
    path = toy_space(tmp_path, results_dir, name="twice", num_samples=2, n_epochs=2)
    tmpdirs = [ray_tmpdir(), ray_tmpdir()]
    try:
        drivers = [
            subprocess.Popen(
                [sys.executable, "-m", "tuner", "run", str(path)],
                cwd=REPO,
                env=driver_env(tmpdir),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
            for tmpdir in tmpdirs
        ]
        outputs = [driver.communicate(timeout=600)[0] for driver in drivers]
        codes = [driver.returncode for driver in drivers]
        assert sorted(codes) == [0, 2], list(zip(codes, outputs, strict=True))
        refused = codes.index(2)
        assert "already holds an experiment" in outputs[refused]
        assert "Traceback" not in outputs[refused]
        # the refused driver never started Ray: nothing in its Ray folder
        assert list(Path(tmpdirs[refused]).iterdir()) == []
        assert list(Path(tmpdirs[1 - refused]).iterdir()) != []  # the other one did
    finally:
        for tmpdir in tmpdirs:
            discard(tmpdir)
