"""The finetune trainable: `train_finetune` (plain function) and `finetune_trainable` (Ray Tune).

A small MLP pretrained on half of scikit-learn's digits (cached per worker) is fine-tuned with a
new head on a few samples of the other half. Its groups are its layers (`body.layer1` ..
`head`), so configs can set per-layer rates and schedules, `layer_decay` and
`unfreeze: {last_n, every}`. Each epoch reports `epoch`, `train_loss`, `val_loss`,
`val_accuracy` and `lr/<group>` (the lr in force at the epoch's start, `.` written `/`); a
checkpoint (model, LR plan, batch order) every `checkpoint_every` epochs and at the end resumes
exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from trainables.finetune.data import load_digits_task
from trainables.finetune.model import build_finetune_model
from trainables.finetune.settings import finetune_settings_of
from trainables.lr import build_lr_plan
from trainables.reporting import MemoryReporter, RayReporter, Reporter, TrainingDiverged


def lr_metrics(lrs: Mapping[str, float]) -> dict[str, float]:
    """`{"lr/body/layer1": ...}` from `{"body.layer1": ...}`."""
    return {f"lr/{name.replace('.', '/')}": lr for name, lr in lrs.items()}


def train_finetune(
    config: Mapping[str, Any], reporter: Reporter | None = None
) -> list[dict[str, float]]:
    """Fine-tune one config (LR keys plus `FinetuneSettings` keys); the reports of this call.

    >>> reports = train_finetune({"learning_rate": 1e-3, "layer_decay": 0.5, "n_epochs": 3})
    """
    settings = finetune_settings_of(config)
    reporter = MemoryReporter() if reporter is None else reporter
    task = load_digits_task(settings.train_fraction, settings.data_seed)
    model = build_finetune_model(
        settings.hidden_dim, settings.pretrain_epochs, settings.pretrain_seed, settings.seed
    )
    plan = build_lr_plan(model, config, n_epochs=settings.n_epochs)
    generator = torch.Generator().manual_seed(settings.seed)
    epoch = 0
    checkpoint = reporter.load_checkpoint()
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        plan.load_state_dict(checkpoint["plan"])
        generator.set_state(checkpoint["generator"])
        epoch = int(checkpoint["epoch"])
    reports = []
    while epoch < settings.n_epochs:
        lrs = lr_metrics(plan.lrs())
        train_loss = _train_epoch(model, plan.optimizer, task.train, settings.batch_size, generator)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(f"training loss became {train_loss} at epoch {epoch + 1}")
        epoch += 1
        val_loss, val_accuracy = _evaluate(model, task.val)
        plan.step_epoch(train_loss=train_loss, val_loss=val_loss)
        report = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            **lrs,
        }
        due = epoch % settings.checkpoint_every == 0 or epoch == settings.n_epochs
        state = {
            "model": model.state_dict(),
            "plan": plan.state_dict(),
            "generator": generator.get_state(),
            "epoch": epoch,
        }
        reporter.report(report, state if due else None)
        reports.append(report)
    return reports


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Any,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    model.train()
    order = torch.randperm(len(data.y), generator=generator)
    total, batches = 0.0, 0
    for i in range(0, len(order), batch_size):
        batch = order[i : i + batch_size]
        loss = nn.functional.cross_entropy(model(data.x[batch]), data.y[batch])
        optimizer.zero_grad(set_to_none=True)
        if loss.requires_grad:  # False only while every layer is frozen
            loss.backward()
            optimizer.step()
        total += loss.item()
        batches += 1
    return total / batches


@torch.no_grad()
def _evaluate(model: nn.Module, data: Any) -> tuple[float, float]:
    model.eval()
    logits = model(data.x)
    loss = nn.functional.cross_entropy(logits, data.y).item()
    accuracy = (logits.argmax(dim=1) == data.y).float().mean().item()
    return loss, accuracy


def finetune_trainable(config: dict[str, Any]) -> None:
    """Ray Tune function trainable: one torch thread, CPU."""
    torch.set_num_threads(1)
    train_finetune(config, RayReporter())
