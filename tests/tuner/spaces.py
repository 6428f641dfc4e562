"""Space files for tuner tests, written into a temporary folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TOY = "tests.tuner.toy:trainable"


def toy_space(tmp: Path, results: Path, **fields: Any) -> Path:
    """A space file over the toy trainable (x uniform in [0, 1]); `fields` override the defaults."""
    data: dict[str, Any] = {
        "name": "toy",
        "trainable": TOY,
        "n_epochs": 6,
        "metric": "score",
        "mode": "min",
        "num_samples": 10,
        "max_concurrent_trials": 2,
        "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
        "searcher": {"name": "tpe", "seed": 0, "n_startup_trials": 4},
        "asha": {"grace_period": 1, "reduction_factor": 3},
        "storage_path": str(results),
    }
    data.update(fields)
    path = tmp / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def ray_curves(exp_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every trial's results as Ray recorded them (`<trial>/result.json`), by Ray trial id."""
    import json

    curves = {}
    for result_file in sorted(exp_dir.glob("*/result.json")):
        rows = [json.loads(line) for line in result_file.read_text().splitlines() if line]
        if rows:
            curves[rows[0]["trial_id"]] = rows
    return curves
