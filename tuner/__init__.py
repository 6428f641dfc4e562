"""Orchestration: space file, Ray Tune + Optuna + ASHA with correct trial states, CLI, exports.

    from tuner import run_space, best_configs_of
    outcome = run_space("examples/quickstart.yaml", num_samples=4)
    print(best_configs_of(outcome.experiment.dir, k=3))

Names are imported on first use, so `import tuner` (and `python -m tuner validate`) stays cheap
and does not import Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_space": "tuner.api",
    "resume": "tuner.api",
    "best_configs_of": "tuner.api",
    "SpaceFile": "tuner.space",
    "load_space": "tuner.space",
    "sample_configs": "tuner.space",
    "BudgetAwareOptunaSearch": "tuner.searcher",
    "SAMPLERS": "tuner.samplers",
    "build_sampler": "tuner.samplers",
    "ray_session": "tuner.ray_session",
    "Experiment": "tuner.experiment",
    "load_experiment": "tuner.experiment",
    "trials_to_frame": "tuner.export",
    "write_exports": "tuner.export",
    "SweepOutcome": "tuner.sweep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tuner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
