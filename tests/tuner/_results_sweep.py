"""One small real DSR sweep shared by the results and report tests (run once per session).

6 trials x 3 epochs of a tiny DSR model, one trial at a time (so the seeded sampler, the seeded
training and ASHA give the same trials every time), ASHA grace 1 and reduction factor 2, so the
folder holds COMPLETE and PRUNED trials, per-group lrs from multipliers and a freeze choice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

SPACE = {
    "name": "results",
    "trainable": "dsr",
    "n_epochs": 3,
    "metric": "score",
    "mode": "min",
    "num_samples": 6,
    "max_concurrent_trials": 1,
    "fixed": {
        "hidden_dim": 8, "latent_dim": 4, "train_steps": 200, "test_steps": 300, "eval_every": 1,
    },
    "search": {
        "learning_rate": {
            "lr": {"log_uniform": [3.0e-3, 3.0e-2]},
            "multipliers": {
                "encoder": {"log_uniform": [0.3, 3.0]},
                "dsr.subjects": {"log_uniform": [0.5, 5.0]},
            },
            "freeze_after": {"decoder": {"choice": [None, 2]}},
        },
        "lr_scheduling": {
            "choice": {
                "MultiStepLR": {"gamma": {"log_uniform": [0.1, 0.5]}, "milestones": [0.5]},
                "ExponentialLR": {"gamma": {"uniform": [0.8, 0.99]}},
            }
        },
    },
    # Optuna's own TPE: the counts and figures the report tests name come from its proposals
    "searcher": {"name": "tpe_optuna", "seed": 0, "n_startup_trials": 4},
    "asha": {"grace_period": 1, "reduction_factor": 2},
    "resources": {"cpu": 1, "gpu": 0},
}  # fmt: skip

_DONE: dict[str, Path] = {}


def dsr_sweep(factory: pytest.TempPathFactory) -> Path:
    """The experiment folder of the shared sweep (run on first use, on the session's Ray)."""
    if "dir" not in _DONE:
        from tuner.api import run_space

        root = factory.mktemp("results_sweep")
        path = root / "results.yaml"
        path.write_text(yaml.safe_dump({**SPACE, "storage_path": str(root / "results")}))
        outcome = run_space(path)
        _DONE["dir"] = outcome.experiment.dir
    return _DONE["dir"]


def copy_of(exp_dir: Path, where: Path) -> Path:
    """A copy of the experiment folder under `where` (tests that change files use one)."""
    return Path(shutil.copytree(exp_dir, where / exp_dir.name))
