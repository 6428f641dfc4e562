"""Load: 60 trials of a trivial trainable at full concurrency, every one recorded exactly once
(the 500-trial run is `python -m benchmarks.load_500`, its numbers in BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load_500 import run_load


@pytest.mark.slow
def test_sixty_trials_at_full_concurrency_are_all_recorded(ray_local: None, tmp_path: Path) -> None:
    report = run_load(60, tmp_path, per_cpu=4)
    assert report["states"] == {"COMPLETE": 60, "PRUNED": 0, "FAIL": 0}
    assert report["optuna_trials"] == report["table_rows"] == 60
    assert report["ray_trial_folders"] == report["distinct_ray_ids"] == 60
