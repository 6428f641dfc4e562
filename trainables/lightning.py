"""A PyTorch Lightning callback: the LR plan as the LightningModule's optimizer, one report per
epoch (so ASHA can stop the trial there). Needs the `lightning` extra (`lr-tuner[lightning]`).

    trainer = lightning.Trainer(max_epochs=config["n_epochs"], callbacks=[TunerCallback(config)])
    trainer.fit(module, train_loader, val_loader)

In `setup` the callback builds the plan from the sampled config for the module (its groups from
the config's `groups:`/`layers:` or the module's `lr_groups()`) and makes it what
`configure_optimizers` returns, so the module's own optimizer and schedulers are not used. After
each optimizer step the plan's step clock advances; at each training epoch's end (after
validation) the plan steps with the logged metrics (`trainer.callback_metrics`) and the epoch is
reported with every logged metric and each group's lr. A Ray trial that fails is retried from
epoch 0: Lightning's own loop state is not checkpointed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl

from trainables.lr.errors import TunerError
from trainables.reporting import EpochReporter, Reporter


class TunerCallback(pl.Callback):
    """Installs the LR plan as the module's optimizer and reports every epoch (module doc)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        reporter: Reporter | None = None,
        steps_per_epoch: int | None = None,
    ) -> None:
        self.config = dict(config)
        self.n_epochs = int(config["n_epochs"])
        self.steps_per_epoch = steps_per_epoch
        self.plan: Any = None
        self._reporter = reporter
        self._epochs: EpochReporter | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        from trainables.lr import build_lr_plan

        if stage != "fit" or self.plan is not None:
            return
        if trainer.max_epochs != self.n_epochs:
            raise TunerError(
                f"the Trainer's max_epochs is {trainer.max_epochs}, but the config's n_epochs is "
                f"{self.n_epochs}: pass max_epochs=config['n_epochs']"
            )
        self.plan = build_lr_plan(pl_module, self.config, self.n_epochs, self.steps_per_epoch)
        optimizer = self.plan.optimizer
        pl_module.configure_optimizers = lambda: optimizer  # the plan replaces the module's own
        # no checkpoints: Lightning's loop would not resume from them (module docstring)
        self._epochs = EpochReporter(pl_module, self.plan, self._reporter, self.n_epochs + 1)
        self._epochs.restore()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        self.plan.step_batch()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self._epochs is None:
            return
        metrics = {}
        for key, value in trainer.callback_metrics.items():
            number = float(value.detach().item()) if hasattr(value, "detach") else float(value)
            metrics[key] = number
        if "train_loss" in metrics and not math.isfinite(metrics["train_loss"]):
            from trainables.reporting import TrainingDiverged

            raise TrainingDiverged(f"train_loss is {metrics['train_loss']}")
        self.plan.step_epoch(**metrics)
        self._epochs.report(metrics)
