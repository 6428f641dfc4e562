"""tuner.report: the PNGs and report.html of a real small DSR sweep, and graceful placeholders."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from PIL import Image
from plotly.offline import get_plotlyjs

from tests.tuner._results_sweep import copy_of, dsr_sweep
from tests.tuner.spaces import toy_space
from trainables.lr.preview_plot import plot_preview
from tuner import plots
from tuner.cli import OK, main
from tuner.experiment import create_experiment
from tuner.report import PLOTS, best_lr_table, importances_of, param_axes, write_report
from tuner.results import Results, load
from tuner.searcher import CONFIG, RAY_TRIAL_ID
from tuner.storage import open_storage

GREY = (140, 140, 140)  # matplotlib "0.55": pruned trials
RED = (214, 39, 40)  # tab:red: failed trials


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def count(image: np.ndarray, rgb: tuple[int, int, int]) -> int:
    return int((np.abs(image.astype(int) - rgb).sum(axis=2) <= 6).sum())


def assert_drawn(path: Path) -> None:
    """A real picture: mostly white background, but a good share of drawn pixels in colours."""
    image = pixels(path)
    drawn = (image < 245).any(axis=2).mean()
    assert 0.02 < drawn < 0.9, (path.name, drawn)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20


@pytest.fixture(scope="module")
def report(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Results, str]:
    folder = copy_of(dsr_sweep(tmp_path_factory), tmp_path_factory.mktemp("report"))
    paths = write_report(folder, k=3)
    return load(folder), paths.html.read_text()


def test_cli_report_prints_every_file(report: tuple[Results, str], capsys) -> None:
    results, _ = report
    assert main(["report", str(results.dir), "--k", "3"]) == OK
    printed = capsys.readouterr().out.split()
    names = [results.dir / "plots" / f"{name}.png" for name in PLOTS]
    assert printed == [*map(str, names), str(results.dir / "report.html")]


def test_plots_are_drawn_at_their_sizes(report: tuple[Results, str], tmp_path: Path) -> None:
    results, _ = report
    folder = results.dir / "plots"
    for name in PLOTS:
        assert_drawn(folder / f"{name}.png")
    assert Image.open(folder / "learning_curves.png").size == plots.SIZE
    assert Image.open(folder / "importance.png").size == plots.SIZE
    # one panel per sampled number that took two values or more, one per group's lr
    trials = results.trials
    varied = [
        c
        for c in trials.columns
        if c.startswith("param/") and pd.to_numeric(trials[c], errors="coerce").nunique() >= 2
    ]
    assert "param/learning_rate/lr" in varied and "param/lr_scheduling/name" not in varied
    # a group whose lr is a fixed multiple of a panel already drawn gets none: the encoder's
    # subjects share its shared multiplier, the decoder and dsr.shared take the base lr as is
    assert [c for c in param_axes(results) if c.startswith("lr/")] == [
        "lr/encoder/shared",
        "lr/dsr/subjects",
    ]
    panels = len(varied) + 2
    assert Image.open(folder / "metric_vs_params.png").size == plots.grid_size(panels)
    table, source = best_lr_table(results)
    assert source.startswith(f"best trial {results.best_entries(1)[0]['trial_id']}: ")
    same = plot_preview(table, tmp_path / "same.png", title=source)
    assert Image.open(folder / "lr_schedule_best.png").size == Image.open(same).size


def test_learning_curves_show_pruned_trials_and_the_best(report: tuple[Results, str]) -> None:
    results, _ = report
    assert (results.trials["state"] == "PRUNED").any()
    image = pixels(results.dir / "plots" / "learning_curves.png")
    assert count(image, GREY) > 400  # dashed grey lines and x marks (text alone: < 100)
    assert count(image, (0, 0, 0)) > 500  # the thick black best curve


def test_best_lr_table_is_what_the_best_trial_reported(report: tuple[Results, str]) -> None:
    results, _ = report
    table, _ = best_lr_table(results)
    best = results.best_entries(1)[0]["trial_id"]
    rows = results.curves[results.curves["trial_id"] == best]
    assert list(table.index) == [1, 2, 3]
    assert list(table.columns) == ["encoder.shared", "encoder.subjects", "decoder.shared",
                                   "dsr.shared", "dsr.subjects"]  # fmt: skip
    assert table["dsr.subjects"].tolist() == rows["lr/dsr/subjects"].tolist()


def test_importances_cover_parameters_sampled_in_every_complete_trial(
    report: tuple[Results, str],
) -> None:
    results, _ = report
    found, note = importances_of(results.study)
    complete = [t for t in results.study.trials if t.state == TrialState.COMPLETE]
    shared = set.intersection(*(set(t.params) for t in complete))
    assert set(found) == shared and "learning_rate/lr" in found
    assert sum(found.values()) == pytest.approx(1.0)
    assert note.startswith(f"fANOVA over {len(complete)} COMPLETE trials")
    assert importances_of(results.study) == (found, note)  # seeded


def test_html_is_self_contained(report: tuple[Results, str]) -> None:
    results, page = report
    # the PNGs the report embeds (plotly.js, inlined below, carries data URIs of its own)
    images = re.findall(
        r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page.replace(get_plotlyjs(), "")
    )
    assert len(images) == len(PLOTS)
    for encoded, name in zip(images, PLOTS, strict=True):
        assert base64.b64decode(encoded) == (results.dir / "plots" / f"{name}.png").read_bytes()
    # nothing is fetched: plotly.js is inlined once, no script or stylesheet has a source
    assert page.count(get_plotlyjs()) == 1
    outside = page.replace(get_plotlyjs(), "")
    assert "http://" not in outside and "https://" not in outside
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=\"(?!data:)", page)
    top = [e["trial_id"] for e in results.best_entries(3)]
    positions = [page.index(f"<td>{trial_id}</td>") for trial_id in top]
    assert positions == sorted(positions)
    pruned = results.trials[results.trials["state"] == "PRUNED"]["trial_id"]
    assert not any(f"<td>{t}</td>" in page for t in pruned)  # the table ranks COMPLETE only
    assert "6 trials: complete 2, pruned 4, fail 0." in page
    assert html.escape(results.space_text) in page
    assert results.experiment.study_name in page
    assert "<h3>Best config, ready to paste</h3>" in page


def add_trial(study: optuna.Study, config: dict, curve: list[float], state: TrialState) -> None:
    trial = study.ask()
    trial.set_user_attr(RAY_TRIAL_ID, f"t{trial.number}")
    trial.set_user_attr(CONFIG, config)
    for step, value in enumerate(curve, start=1):
        trial.report(value, step)
    study.tell(trial, curve[-1] if state == TrialState.COMPLETE else None, state=state)


def test_too_few_trials_give_placeholders_that_say_why(tmp_path: Path, results_dir: Path) -> None:
    """A toy sweep (no LR groups) with one COMPLETE trial, recorded without Ray."""
    space = toy_space(tmp_path, results_dir, name="few", n_epochs=2)
    exp = create_experiment(
        space, name="few", storage_path=results_dir, metric="score", mode="min", max_t=2
    )
    storage = open_storage(exp.optuna_storage)
    study = optuna.create_study(study_name=exp.study_name, storage=storage)
    add_trial(study, {"x": 0.3, "n_epochs": 2}, [1.0, 0.5], TrialState.COMPLETE)
    add_trial(study, {"x": 0.9, "n_epochs": 2}, [1.4], TrialState.PRUNED)
    paths = write_report(exp.dir)
    page = paths.html.read_text()
    for name in PLOTS:
        assert Image.open(paths.plots[name]).size == plots.SIZE
    assert_drawn(paths.plots["learning_curves"])
    assert "importances need at least 2 COMPLETE trials; this sweep has 1" in page
    assert "no numeric parameter took more than one value" in page
    assert "best trial t0 reported no lr and its config has no LR groups" in page
    assert count(pixels(paths.plots["learning_curves"]), GREY) > 50


def test_learning_curves_mark_each_state(tmp_path: Path) -> None:
    def frame(states: list[str]) -> pd.DataFrame:
        rows = [
            {"trial_id": f"t{i}", "number": i, "state": s, "epoch": e, "score": 1.0 / e + i}
            for i, s in enumerate(states)
            for e in range(1, (4 if s == "COMPLETE" else 3))
        ]
        return pd.DataFrame(rows)

    only_complete = pixels(
        plots.plot_learning_curves(frame(["COMPLETE"] * 2), "score", tmp_path / "a.png", "t0")
    )
    mixed = pixels(
        plots.plot_learning_curves(
            frame(["COMPLETE", "PRUNED", "FAIL"]), "score", tmp_path / "b.png", "t0"
        )
    )
    # antialiased text has some grey pixels too: the pruned trial's line and x add far more
    assert count(mixed, GREY) > count(only_complete, GREY) + 150
    assert count(only_complete, RED) == 0 and count(mixed, RED) > 100
