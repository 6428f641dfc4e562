"""A LightningModule tuned by `python -m tuner run examples/lightning/space.yaml`.

The module and the Trainer are plain Lightning; one callback connects them to the tuner:
`TunerCallback(config)` makes the LR plan (per-group rates from the sampled config) the module's
optimizer and reports every epoch, so ASHA can stop the trial. Needs `lr-tuner[lightning]`.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainables.declare import trainable
from trainables.lightning import TunerCallback


class Regressor(pl.LightningModule):
    """Two layers, `body` and `head` (its groups with `layers: auto`)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Linear(8, width)
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.body(x)))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)  # replaced by the tuner's plan


def loaders(seed: int = 0, n: int = 512) -> tuple[DataLoader, DataLoader]:
    """y = sin(x w / 3) + noise; 3/4 to train (shuffled by a seeded generator), 1/4 to validate."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = torch.sin(x @ torch.randn(8, 1, generator=g) / 3) + 0.05 * torch.randn(n, 1, generator=g)
    cut = 3 * n // 4
    train = TensorDataset(x[:cut], y[:cut])
    shuffle = torch.Generator().manual_seed(seed)
    return (
        DataLoader(train, batch_size=32, shuffle=True, generator=shuffle),
        DataLoader(TensorDataset(x[cut:], y[cut:]), batch_size=128),
    )


@trainable(groups=("body", "head"))
def train(config: dict[str, Any]) -> None:
    """The trainable: a plain Lightning fit with the tuner's callback."""
    torch.set_num_threads(1)
    pl.seed_everything(config.get("seed", 0), verbose=False)
    module = Regressor(config.get("width", 32))
    trainer = pl.Trainer(
        max_epochs=config["n_epochs"],
        callbacks=[TunerCallback(config)],
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, *loaders())
