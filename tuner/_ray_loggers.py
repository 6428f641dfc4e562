"""The result loggers a sweep gives Ray Tune: JSON and CSV always; TensorBoard, MLflow and W&B
when the space file asks for them (`loggers: [tensorboard, mlflow, wandb]`).

Ray adds a JSON, a CSV and a TensorBoard (tensorboardX) logger unless the run's callbacks hold
one of each kind. The TensorBoard logger flushes an event file on every result, on the driver,
while the trial waits for the driver to take its result (its cost per result: BENCHMARKS.md,
"Result loggers"). Nothing in the tuner reads those files (`result.json` holds every epoch), so
without `tensorboard` in `loggers` the sweep passes a logger of that kind that writes nothing.

Where each writes, inside the experiment folder:

- `tensorboard`: Ray's `TBXLoggerCallback`, an event file in each trial folder
  (`tensorboard --logdir results/<name>`);
- `mlflow`: Ray's `MLflowLoggerCallback`, one MLflow run per trial (params: the config; metrics:
  every reported number per epoch) in the local store `results/<name>/mlflow.db`, experiment
  `<name>` (`mlflow ui --backend-store-uri sqlite:///results/<name>/mlflow.db`);
  `MLFLOW_TRACKING_URI` in the environment names another store or server;
- `wandb`: Ray's `WandbLoggerCallback` in offline mode (no account, nothing sent), one run folder
  per trial under `<trial>/wandb/` (`wandb sync` uploads them later). `WANDB_MODE=online` in the
  environment sends them at once instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback


class NoTensorBoardLogger(TBXLoggerCallback):
    """Takes the TensorBoard logger's place so Ray adds none; writes nothing."""

    def __init__(self) -> None:  # the parent imports tensorboardX and sets up writers
        pass

    def log_trial_start(self, trial: Any) -> None:
        pass

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        pass

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        pass


def _mlflow(exp_dir: Path) -> Any:
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    uri = os.environ.get("MLFLOW_TRACKING_URI") or mlflow_uri(exp_dir)
    return MLflowLoggerCallback(tracking_uri=uri, experiment_name=exp_dir.name)


def mlflow_uri(exp_dir: Path) -> str:
    """The sweep's MLflow store: the SQLite file `mlflow.db` in the experiment folder (MLflow 3
    keeps its plain-folder store only behind an opt-out; SQLite is its local default)."""
    return f"sqlite:///{Path(exp_dir).resolve() / 'mlflow.db'}"


def _wandb(exp_dir: Path) -> Any:
    from ray.air.integrations.wandb import WandbLoggerCallback

    mode = os.environ.setdefault("WANDB_MODE", "offline")  # Ray then asks for no API key
    os.environ.setdefault("WANDB_SILENT", "true")
    return WandbLoggerCallback(project=exp_dir.name, mode=mode)


_BUILD: dict[str, Callable[[Path], Any]] = {
    "tensorboard": lambda exp_dir: TBXLoggerCallback(),
    "mlflow": _mlflow,
    "wandb": _wandb,
}


def result_loggers(names: Sequence[str] = (), exp_dir: Path | None = None) -> list[Any]:
    """`result.json` and `progress.csv` per trial, plus the loggers `names` (module docstring);
    no TensorBoard event files unless `tensorboard` is named."""
    loggers: list[Any] = [JsonLoggerCallback(), CSVLoggerCallback()]
    if "tensorboard" not in names:
        loggers.append(NoTensorBoardLogger())
    for name in dict.fromkeys(names):
        if exp_dir is None:
            raise ValueError(f"logger {name!r} needs the experiment folder")
        loggers.append(_BUILD[name](Path(exp_dir)))
    return loggers
