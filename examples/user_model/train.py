"""A user's own model, data and training loop, tuned by `python -m tuner run`.

The loop is plain PyTorch; `@trainable` declares it a trainable a space file may name (with the
layers the learning-rate search covers), and two lines connect it to the tuner: `build_lr_plan`
turns the sampled config (learning rates, `layer_decay`, `unfreeze`, schedules) into the
optimizer, and `epoch_reporter` reports each epoch and checkpoints, so ASHA can stop the trial and
Ray can resume it. Run it plainly with `python -m examples.user_model.train`.
"""

from __future__ import annotations

import torch
from torch import nn

from trainables.declare import trainable
from trainables.lr import build_lr_plan
from trainables.reporting import epoch_reporter


class Regressor(nn.Module):
    """Four layers, bottom to top: embed, block1, block2, head (its groups with `layers: auto`)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Linear(8, width)
        self.block1 = nn.Sequential(nn.Linear(width, width), nn.Tanh())
        self.block2 = nn.Sequential(nn.Linear(width, width), nn.Tanh())
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block2(self.block1(torch.tanh(self.embed(x)))))


def make_data(seed: int = 0, n: int = 512) -> tuple[torch.Tensor, ...]:
    """A smooth regression task: y = sin(x w1 / 3) w2 + noise; 3/4 train, 1/4 validation."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = torch.sin(x @ torch.randn(8, 4, generator=g) / 3) @ torch.randn(4, 1, generator=g)
    y = y + 0.05 * torch.randn(n, 1, generator=g)
    cut = 3 * n // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


# groups: what a space file's `learning_rate` search covers (the layers `layers: auto` finds)
@trainable(groups=("embed", "block1", "block2", "head"))
def train(config: dict) -> None:
    """The trainable: a plain loop over epochs and batches."""
    torch.set_num_threads(1)
    torch.manual_seed(config.get("seed", 0))
    x, y, x_val, y_val = make_data()
    model = Regressor(config.get("width", 32))
    plan = build_lr_plan(model, config, n_epochs=config["n_epochs"])
    reporter = epoch_reporter(model, plan, config)
    for _ in reporter.epochs():
        total = 0.0
        for batch in torch.randperm(len(x)).split(32):
            loss = nn.functional.mse_loss(model(x[batch]), y[batch])
            plan.optimizer.zero_grad()
            loss.backward()
            plan.optimizer.step()
            total += loss.item() * len(batch)
        with torch.no_grad():
            val_loss = nn.functional.mse_loss(model(x_val), y_val).item()
        plan.step_epoch(train_loss=total / len(x))
        reporter.report({"train_loss": total / len(x), "val_loss": val_loss})


if __name__ == "__main__":
    train({"learning_rate": 3e-3, "layer_decay": 0.7, "n_epochs": 5})
