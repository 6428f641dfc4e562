"""Tuning a lab's training class as it is: it owns its epoch loop, shuffles with numpy, keeps
an identity observation matrix and a noise covariance fixed by design, anneals a teacher-forcing
alpha and writes its own log files. The trainable hands it the LR plan's optimizer, the trial's
folder and `tuned.report_epoch` as its epoch-end hook, and starts it at `tuned.start_epoch`;
its loop is not copied.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from optuna.trial import TrialState
from torch import nn

from tests.tuner.spaces import ray_curves
from trainables.declare import trainable
from trainables.loop import TunedLoop, tuned_loop
from trainables.lr import TunerError
from trainables.reporting import MemoryReporter
from tuner.api import run_space

N_EPOCHS = 6
GROUPS = {"shared": ["A", "W1", "W2", "h1", "h2", "B", "Gamma"], "subjects": ["subject"]}
CONFIG = {
    "n_epochs": N_EPOCHS,
    "groups": GROUPS,
    "learning_rate": {"shared": 3e-3, "subjects": 1e-2},
    "checkpoint_every": 2,
    "alpha": 0.5,
}


# ---- the lab's code, as a lab writes it (not part of the tuner) --------------------------------


class ShallowPLRNN(nn.Module):
    """z' = A z + W1 relu(W2 z + h2) + h1 + s_subject, observed as x = B z with noise Gamma."""

    def __init__(self, n_subjects: int, dz: int = 3, dh: int = 8) -> None:
        super().__init__()
        self.A = nn.Parameter(0.9 * torch.ones(dz))
        self.W1 = nn.Parameter(0.1 * torch.randn(dz, dh))
        self.W2 = nn.Parameter(0.1 * torch.randn(dh, dz))
        self.h1 = nn.Parameter(torch.zeros(dz))
        self.h2 = nn.Parameter(torch.zeros(dh))
        self.subject = nn.Parameter(0.1 * torch.randn(n_subjects, dz))
        # identity observation and fixed noise: not to be trained
        self.B = nn.Parameter(torch.eye(dz), requires_grad=False)
        self.Gamma = nn.Parameter(0.5 * torch.ones(dz), requires_grad=False)

    def step(self, z: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(z @ self.W2.T + self.h2)
        return self.A * z + hidden @ self.W1.T + self.h1 + self.subject[s]


class BPTT:
    """Trains the model with teacher forcing; `train()` runs every epoch and logs each."""

    def __init__(
        self,
        args: dict[str, Any],
        log_dir: Path,
        optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None = None,
        on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        self.args = args
        np.random.seed(args.get("seed", 0))
        torch.manual_seed(args.get("seed", 0))
        t = np.linspace(0, 6 * np.pi, 12)
        freqs = np.random.uniform(0.5, 1.5, size=(4, 3))
        signal_ = np.sin(freqs[:, None, :] * t[None, :, None])  # subject, time, dim
        noisy = signal_[:, None] + 0.05 * np.random.randn(4, 6, 12, 3)  # 6 sequences each
        self.data = torch.tensor(noisy, dtype=torch.float32)
        self.model = ShallowPLRNN(n_subjects=4)
        self.optimizer = (
            optimizer(self.model)
            if optimizer is not None
            else torch.optim.Adam(self.model.parameters(), lr=args.get("lr", 1e-3))
        )
        self.on_epoch_end = on_epoch_end
        self.alpha = float(args.get("alpha", 0.5))
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def loss(self, x: torch.Tensor, s: torch.Tensor, alpha: float) -> torch.Tensor:
        z, total = x[:, 0], 0.0
        for t in range(1, x.shape[1]):
            z = self.model.step(z, s)
            total = total + (((z @ self.model.B.T - x[:, t]) ** 2) / self.model.Gamma).mean()
            z = alpha * x[:, t] + (1 - alpha) * z  # teacher forcing
        return total / (x.shape[1] - 1)

    def train(self, start_epoch: int = 0) -> None:
        subjects, sequences = self.data.shape[:2]
        pairs = [(s, q) for s in range(subjects) for q in range(sequences - 1)]
        for epoch in range(start_epoch, self.args["n_epochs"]):
            order = np.random.permutation(len(pairs))
            losses = []
            for batch in np.array_split(order, 5):
                s = torch.tensor([pairs[i][0] for i in batch])
                x = torch.stack([self.data[pairs[i]] for i in batch])
                loss = self.loss(x, s, self.alpha)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
            with torch.no_grad():  # the last sequence of each subject, free running
                val = self.loss(self.data[:, -1], torch.arange(subjects), 0.0).item()
            self.alpha = max(0.1, 0.8 * self.alpha)
            metrics = {"train_loss": float(np.mean(losses)), "val_error": val}
            with open(self.log_dir / "train_log.txt", "a") as log:
                log.write(f"epoch {epoch + 1} loss {metrics['train_loss']:.6f} val {val:.6f}\n")
            if self.on_epoch_end is not None:
                self.on_epoch_end(epoch, metrics)
        torch.save(self.model.state_dict(), self.log_dir / "model_final.pt")


# ---- the trainable: hands the lab class the plan, the trial folder and the epoch hook ----------


def run_lab(config: dict[str, Any], **options: Any) -> TunedLoop:
    """Train the lab's class under the tuner; `options` go to `tuned_loop`."""
    torch.set_num_threads(1)
    with tuned_loop(config, **options) as tuned:  # the last epoch is reported at its end

        def on_epoch_end(epoch: int, metrics: dict[str, float]) -> None:
            marker = tuned.trial_dir / "killed_once"
            if epoch + 1 == config.get("kill_in_epoch") and not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)  # the worker dies before this report
            tuned.report_epoch(metrics)

        trainer = BPTT(config, tuned.trial_dir, tuned.optimizer, on_epoch_end)
        tuned.track(trainer, "alpha")
        trainer.train(start_epoch=tuned.start_epoch)
    return tuned


@trainable
def train_lab(config: dict[str, Any]) -> None:
    """The trainable a space file names: `tests.test_lab_loop:train_lab`."""
    run_lab(config)


# ---- tests -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class StopAfter(MemoryReporter):
    """A reporter whose run dies (an exception) right after reporting `epoch`."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None:
        super().report(metrics, checkpoint)
        if metrics["epoch"] == self.epoch:
            raise KeyboardInterrupt


def plain_run(config: dict[str, Any], folder: Path) -> tuple[MemoryReporter, dict]:
    reporter = MemoryReporter()
    run_lab(config, reporter=reporter, trial_dir=folder)
    return reporter, torch.load(folder / "model_final.pt", weights_only=True)


def test_the_lab_class_trains_with_the_plan_and_keeps_its_fixed_parameters(tmp_path: Path) -> None:
    reporter, final = plain_run(CONFIG, tmp_path)
    first = BPTT(CONFIG, tmp_path / "untrained").model.state_dict()
    assert torch.equal(final["B"], first["B"]) and torch.equal(final["Gamma"], first["Gamma"])
    assert not torch.equal(final["A"], first["A"])
    rows = reporter.reports
    assert [r["epoch"] for r in rows] == list(range(1, N_EPOCHS + 1))
    assert rows[0]["lr/shared"] == 3e-3 and rows[0]["lr/subjects"] == 1e-2
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    log = (tmp_path / "train_log.txt").read_text().splitlines()
    assert [line.split()[1] for line in log] == [str(e) for e in range(1, N_EPOCHS + 1)]


def test_a_stopped_lab_run_resumes_bit_for_bit(tmp_path: Path) -> None:
    whole, whole_final = plain_run(CONFIG, tmp_path / "whole")
    broken = StopAfter(3)  # checkpoint after epoch 2, stopped after epoch 3
    with pytest.raises(KeyboardInterrupt):
        run_lab(CONFIG, reporter=broken, trial_dir=tmp_path / "broken")
    assert broken.checkpoint["state"]["tracked"] == {"alpha": 0.5 * 0.8**2}
    resumed = MemoryReporter(broken.checkpoint)
    run_lab(CONFIG, reporter=resumed, trial_dir=tmp_path / "broken")
    assert resumed.reports == whole.reports[2:]
    final = torch.load(tmp_path / "broken" / "model_final.pt", weights_only=True)
    assert all(torch.equal(final[k], whole_final[k]) for k in whole_final)


def test_a_resumed_loop_that_does_not_ask_where_to_start_is_refused(tmp_path: Path) -> None:
    broken = StopAfter(2)
    with pytest.raises(KeyboardInterrupt):
        run_lab(CONFIG, reporter=broken, trial_dir=tmp_path)
    tuned = tuned_loop(CONFIG, reporter=MemoryReporter(broken.checkpoint), trial_dir=tmp_path)
    trainer = BPTT(CONFIG, tmp_path, optimizer=tuned.optimizer)
    with pytest.raises(TunerError, match="begin its epochs at tuned.start_epoch"):
        tuned.report_epoch({"val_error": 1.0})
    with pytest.raises(TunerError, match="called twice"):
        tuned.optimizer(trainer.model)
    with pytest.raises(TunerError, match=r"tuned.optimizer\(model\) first"):
        tuned_loop(CONFIG).report_epoch({"val_error": 1.0})


@pytest.mark.slow
def test_a_sweep_over_the_lab_class(ray_local: None, tmp_path: Path, results_dir: Path) -> None:
    """Optuna states true, fixed parameters bit-identical, a trial whose worker was SIGKILLed
    resumed bit for bit as the uninterrupted run, log files in each trial's folder."""
    space = {
        "name": "lab",
        "trainable": "tests.test_lab_loop:train_lab",
        "n_epochs": N_EPOCHS,
        "metric": "val_error",
        "mode": "min",
        "num_samples": 4,
        "max_concurrent_trials": 2,
        "fixed": {"groups": GROUPS, "alpha": 0.5, "kill_in_epoch": 4},
        "search": {
            "learning_rate": {
                "lr": {"log_uniform": [1e-3, 1e-2]},
                "multipliers": {"subjects": {"log_uniform": [1.0, 10.0]}},
            }
        },
        "searcher": {"name": "tpe", "seed": 0, "n_startup_trials": 2},
        "asha": {"grace_period": 2, "reduction_factor": 2},
        "checkpoint_every": 2,
        "max_failures": 1,
        "storage_path": str(results_dir),
    }
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(space))
    cwd_before = set(Path.cwd().iterdir())
    outcome = run_space(path)
    study = outcome.experiment.load_study()
    curves = ray_curves(outcome.experiment.dir)
    assert len(study.trials) == 4
    killed = 0
    for trial in study.trials:
        ray_id = trial.user_attrs["ray_trial_id"]
        folder = outcome.experiment.dir / ray_id
        epochs = max(trial.intermediate_values)
        assert trial.state == (TrialState.COMPLETE if epochs == N_EPOCHS else TrialState.PRUNED)
        # the same config, uninterrupted, in this process
        config = {k: v for k, v in trial.user_attrs["config"].items() if k != "kill_in_epoch"}
        config["n_epochs"] = N_EPOCHS
        whole, whole_final = plain_run(config, tmp_path / "plain" / ray_id)
        assert trial.intermediate_values == {
            r["epoch"]: r["val_error"] for r in whole.reports[:epochs]
        }
        lived = [row["epoch"] for row in curves[ray_id]]
        log = (folder / "train_log.txt").read_text().splitlines()
        if (folder / "killed_once").exists():
            killed += 1
            # Ray's log ends with the second life, from the checkpoint (epoch 2) on (the first
            # life's rows are kept or not, as Ray's logger goes); the lab's own log shows the
            # first life up to the epoch it died in, then the second
            assert lived[-(epochs - 2) :] == list(range(3, epochs + 1))
            assert [line.split()[1] for line in log][:5] == ["1", "2", "3", "4", "3"]
        else:
            assert lived == list(range(1, epochs + 1))
        if epochs == N_EPOCHS:
            final = torch.load(folder / "model_final.pt", weights_only=True)
            assert all(torch.equal(final[k], whole_final[k]) for k in whole_final)
            untrained = BPTT(config, tmp_path / "untrained").model.state_dict()
            assert torch.equal(final["B"], untrained["B"])
            assert torch.equal(final["Gamma"], untrained["Gamma"])
    assert killed >= 1
    assert set(Path.cwd().iterdir()) == cwd_before  # no log went to the working folder
