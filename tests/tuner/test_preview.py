"""`python -m tuner preview` and `python -m tuner schedules`: tables, PNGs, exit 2 on bad input."""

from __future__ import annotations

import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from trainables.lr import SCHEDULES
from trainables.lr.preview import preview_config
from tuner.cli import BAD_INPUT, OK, main
from tuner.space import load_space, sample_configs

REPO = Path(__file__).resolve().parents[2]
SPACE = REPO / "examples" / "space_schedules.yaml"
LEARNING_RATE = {
    "encoder": {"lr": 1e-3, "freeze_after": 4},
    "decoder": {"lr": 3e-3, "unfreeze_at": 1},
    "dsr": {"shared": {"lr": 2e-3}, "subjects": {"lr": 2e-2}},
}


def _write(tmp_path: Path, data: Any, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _csv(text: str, index: str) -> pd.DataFrame:
    """The printed table, every value read back exactly: pandas 2's default float parser can be
    1 ULP off (its `round_trip` one is exact; pandas 3's default is, and deprecates the option)."""
    exact = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    return pd.read_csv(io.StringIO(text), index_col=index, **exact)


def test_config_file_table_csv_and_png(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = {
        "n_epochs": 10,
        "learning_rate": LEARNING_RATE,
        "lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.5}},
    }
    path = _write(tmp_path, config)
    out = tmp_path / "plots" / "lr.png"
    assert main(["preview", str(path), "--out", str(out)]) == OK
    printed = capsys.readouterr().out
    assert f"per epoch: {path}, n_epochs 10" in printed
    assert f"plot: {out}" in printed
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = printed.splitlines()
    row = next(line.split() for line in lines if line.startswith("4 "))
    # epoch 4 (epochs count from 1): encoder 1e-3 x 0.5^3; decoder open since epoch 2;
    # dsr.subjects 2e-2 x 0.5^3
    assert row == ["4", "0.000125", "0.000125", "0.000375", "0.00025", "0.0025"]

    assert main(["preview", str(path), "--format", "csv", "--no-plot"]) == OK
    captured = capsys.readouterr()
    frame = _csv(captured.out, "epoch")  # stdout is pure CSV; the header went to stderr
    assert "per epoch" in captured.err
    expected = preview_config(config, n_epochs=10)
    assert list(frame.index) == list(range(1, 11))  # epochs count from 1, as trainables report
    assert frame.equals(expected.set_axis(range(1, 11)).rename_axis("epoch"))
    for epoch in range(1, 11):
        want = 2e-2 * 0.5 ** (epoch - 1)
        assert math.isclose(frame.loc[epoch, "dsr.subjects"], want, rel_tol=1e-12)
    assert (frame.loc[5:, "encoder.shared"] == 0).all() and frame.loc[1, "decoder.shared"] == 0


def test_step_wise_schedule_is_previewed_per_step(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = {
        "n_epochs": 4,
        "learning_rate": LEARNING_RATE,
        "lr_scheduling": {"name": "Noam", "hyperparameters": {"n_warmup_steps": 6}},
    }
    path = _write(tmp_path, config)
    argv = ["preview", str(path), "--steps-per-epoch", "5", "--format", "csv", "--no-plot"]
    assert main(argv) == OK
    frame = _csv(capsys.readouterr().out, "step")
    # steps and epochs count from 1: step s + 1 is the loop's optimizer step s (0-based)
    assert list(frame.index) == list(range(1, 21)) and list(frame["epoch"]) == [
        s // 5 + 1 for s in range(20)
    ]
    for step in (1, 6, 19):
        epoch = step // 5
        noam = math.sqrt(6) * min(step**-0.5, step * 6**-1.5)
        want = 0.0 if epoch >= 4 else 1e-3 * noam
        assert math.isclose(frame.loc[step + 1, "encoder.shared"], want, rel_tol=1e-12)
        assert math.isclose(frame.loc[step + 1, "dsr.subjects"], 2e-2 * noam, rel_tol=1e-12)


def test_space_file_previews_its_first_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "space.png"
    argv = ["preview", str(SPACE), "--format", "csv", "--out", str(out)]
    assert main(argv) == OK
    captured = capsys.readouterr()
    assert f"sample #1 (seed 0) of {SPACE}" in captured.err and out.is_file()
    space = load_space(SPACE)
    first = sample_configs(space, n=1, seed=0)[0]  # what `python -m tuner sample` prints first
    expected = preview_config(first, n_epochs=space.n_epochs, group_names=space.group_names())
    shown = _csv(captured.out, "epoch")
    assert shown.equals(expected.set_axis(range(1, space.n_epochs + 1)).rename_axis("epoch"))
    assert main(["preview", str(SPACE), "--sample", "3", "--seed", "7", "--no-plot"]) == OK
    third = sample_configs(space, n=3, seed=7)[2]
    assert f"sample #3 (seed 7) of {SPACE}" in capsys.readouterr().out
    assert "lr_scheduling" in third


def test_n_epochs_and_groups_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = {
        "learning_rate": {"backbone": {"lr": 1e-4}, "head": {"lr": 1e-2}},
        "lr_scheduling": {"name": "Linear", "hyperparameters": {"final_value": 0.0}},
    }
    path = _write(tmp_path, config)
    argv = ["preview", str(path), "--n-epochs", "5", "--groups", "backbone,head"]
    assert main([*argv, "--format", "csv", "--no-plot"]) == OK
    frame = _csv(capsys.readouterr().out, "epoch")
    assert list(frame.columns) == ["backbone", "head"]
    assert list(frame["head"]) == pytest.approx([1e-2, 7.5e-3, 5e-3, 2.5e-3, 0.0], abs=1e-18)


@pytest.mark.parametrize(
    ("data", "args", "needle"),
    [
        (
            {"n_epochs": 5, "lr_scheduling": {"name": "Cosinee"}},
            [],
            "lr_scheduling.name: 'Cosinee' is not a known schedule: did you mean 'Cosine'?",
        ),
        (
            {"learning_rate": 1e-3},
            [],
            "n_epochs is required but missing: add it, or pass --n-epochs",
        ),
        (
            {"n_epochs": 0.5, "learning_rate": 1e-3},
            [],
            "n_epochs is 0.5, but must be a whole number",
        ),
        (
            {
                "n_epochs": 3,
                "lr_scheduling": {"name": "Noam", "hyperparameters": {"n_warmup_steps": 2}},
            },
            [],
            "steps_per_epoch is not given, but the schedules of encoder.shared (Noam)",
        ),
        (
            {
                "n_epochs": 3,
                "lr_scheduling": {"name": "Cosine", "hyperparameters": {"unit": "step"}},
            },
            [],
            "steps_per_epoch is not given, but a schedule moves per step: pass --steps-per-epoch",
        ),
        (
            {"n_epochs": 3, "layers": "auto", "layer_decay": 0.5},
            [],
            "layers: names the model's modules, so its groups are not known without the model: "
            "pass --groups",
        ),
        (
            {"n_epochs": 3, "learning_rate": {"encoder": {"lr": 1e-3, "freeze_aftr": 2}}},
            [],
            "learning_rate.encoder",
        ),
        ({"n_epochs": 3, "learning_rate": 1e-3}, ["--groups", "a,,b"], None),
    ],
    ids=[
        "unknown-schedule",
        "no-epochs",
        "bad-epochs",
        "noam-no-steps",
        "curve-no-steps",
        "layers",
        "bad-leaf",
        "bad-groups",
    ],
)
def test_bad_input_exits_2_naming_the_file_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture, data: Any, args: list[str], needle: str | None
) -> None:
    path = _write(tmp_path, data)
    if needle is None:  # argparse refuses it
        with pytest.raises(SystemExit) as caught:
            main(["preview", str(path), *args])
        assert caught.value.code == BAD_INPUT
        return
    assert main(["preview", str(path), "--no-plot", *args]) == BAD_INPUT
    err = capsys.readouterr().err
    assert f"{path}: {needle}" in err, err
    assert "Traceback" not in err


def test_unreadable_files_and_outputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["preview", str(missing)]) == BAD_INPUT
    assert f"{missing}: cannot be read" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("learning_rate: [1e-3\n")
    assert main(["preview", str(broken)]) == BAD_INPUT
    assert f"{broken}: is not valid YAML at line" in capsys.readouterr().err
    space = _write(tmp_path, {**yaml.safe_load(SPACE.read_text()), "n_epochs": 2}, "space.yaml")
    assert main(["preview", str(space)]) == BAD_INPUT
    assert (
        f"{space}: asha.grace_period is 3, but must be <= n_epochs (2)" in capsys.readouterr().err
    )
    good = _write(tmp_path, {"n_epochs": 2, "learning_rate": 1e-3})
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["preview", str(good), "--out", str(blocker / "lr.png")]) == BAD_INPUT
    assert "preview: --out is" in capsys.readouterr().err


def test_json_config_and_default_plot_path(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "best.json"
    path.write_text('{"n_epochs": 3, "learning_rate": [0.001, 0.01]}')
    monkeypatch.chdir(tmp_path)
    assert main(["preview", str(path)]) == OK
    assert "plot: results/preview/best.png" in capsys.readouterr().out
    assert (tmp_path / "results" / "preview" / "best.png").is_file()


def test_preview_starts_no_ray(tmp_path: Path) -> None:
    """In a fresh interpreter: the space file is previewed and Ray is never initialized."""
    code = (
        "import sys; from tuner.cli import main; "
        f"rc = main(['preview', {str(SPACE)!r}, '--no-plot']); "
        "ray = sys.modules.get('ray'); "
        "print('RAY', bool(ray and ray.is_initialized())); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == OK, done.stderr
    assert "RAY False" in done.stdout and "sample #1" in done.stdout


def test_schedules_lists_every_registered_schedule(capsys: pytest.CaptureFixture) -> None:
    assert main(["schedules"]) == OK
    text = capsys.readouterr().out
    heads = [line.split()[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert heads == sorted(SCHEDULES)
    assert main(["schedules", "NoamScheduler", "Cosine"]) == OK
    text = capsys.readouterr().out
    assert text.startswith("Noam  [step]  (also: NoamScheduler)\n")
    assert "    hyperparameters: lr_initial=1.0, n_warmup_steps (required), model_size=None" in text
    assert "Cosine  [epoch, or step with unit: step]" in text
    assert main(["schedules", "Nom"]) == BAD_INPUT
    assert "schedules: Nom is not a known schedule: did you mean 'Noam'?" in capsys.readouterr().err
