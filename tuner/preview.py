"""`python -m tuner preview FILE` and `python -m tuner schedules`: schedules seen before training.

FILE is either a trainable config in the seed format (YAML or JSON: `learning_rate`,
`lr_scheduling`, optionally `n_epochs` and `groups:`), or a space file (recognized by keys such as
`search`, `metric`, `fixed`): then the config previewed is sample #1 of `python -m tuner sample
FILE` (the fixed settings merged with the first seeded sample) over the file's `n_epochs` and
groups. Groups default to the DSR benchmark's; `--groups a,b,c` names others (e.g. the layer
groups of a `layers:` config). Nothing trains, no model is built and Ray is never started.

Epochs (and optimizer steps) count from 1, as the trainables report them and the report shows
them: row 1 is the lr in force during the first epoch. (`trainables.lr.preview_lrs` indexes by
the training loop's 0-based counter; `one_based` shifts its table.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainables.lr.errors import ConfigError, Problem
from trainables.lr.preview import preview_config
from tuner._cli_args import positive_int, sampler_seed

if TYPE_CHECKING:
    import pandas as pd

#: keys that make a file a space file rather than a trainable config
SPACE_KEYS = frozenset(
    {"search", "fixed", "searcher", "asha", "metric", "mode", "num_samples", "trainable"}
)
FORMATS = ("table", "csv")
MAX_TABLE_ROWS = 100
_STEPS_FIX = "pass --steps-per-epoch S (the training loop's batches per epoch)"


@dataclass(frozen=True)
class Preview:
    """What was previewed (config, budget, where it came from) and its lr table."""

    source: str
    what: str
    config: dict[str, Any]
    n_epochs: int
    steps_per_epoch: int | None
    frame: pd.DataFrame


def _n_epochs(value: Any) -> list[Problem]:
    if value is None:
        return [Problem("n_epochs", "is required but missing", "add it, or pass --n-epochs N")]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return [Problem("n_epochs", f"is {value!r}, but must be a whole number >= 1")]
    return []


def _from_space(
    data: Mapping[str, Any], source: str, sample: int, seed: int | None
) -> tuple[dict[str, Any], int, tuple[str, ...], str]:
    from tuner.space import parse_space, sample_configs

    space = parse_space(data, source)
    seed = seed if seed is not None else (space.searcher.seed or 0)
    config = sample_configs(space, n=sample, seed=seed)[sample - 1]
    what = f"sample #{sample} (seed {seed}) of {source}"
    return config, space.n_epochs, space.group_names(), what


def _preview(
    config: Mapping[str, Any],
    n_epochs: int,
    steps_per_epoch: int | None,
    groups: Sequence[str] | None,
) -> pd.DataFrame:
    """The table; a missing steps_per_epoch is reported with the command-line fix."""
    try:
        return preview_config(config, n_epochs, steps_per_epoch, group_names=groups)
    except ConfigError as error:
        if steps_per_epoch is not None:
            raise
        try:  # with steps known, does it build? then the steps were all that was missing
            preview_config(config, n_epochs, 1, group_names=groups, epochs=1)
        except ConfigError:
            raise error from None
        said = [p for p in error.problems if p.path == "steps_per_epoch"]
        message = said[0].message if said else "is not given, but a schedule moves per step"
        raise ConfigError([Problem("steps_per_epoch", message, _STEPS_FIX)]) from None


def preview_file(
    path: str | Path,
    *,
    n_epochs: int | None = None,
    steps_per_epoch: int | None = None,
    groups: Sequence[str] | None = None,
    sample: int = 1,
    seed: int | None = None,
) -> Preview:
    """Every group's lr over the run a config or space file describes; `ConfigError` naming the
    file and dotted path of every problem.

    >>> preview_file("examples/space_schedules.yaml").frame.loc[0, "dsr.subjects"]  # doctest: +SKIP
    """
    from tuner._space_yaml import read_yaml

    source = str(path)
    data = read_yaml(path)
    if SPACE_KEYS & set(data):
        config, file_epochs, names, what = _from_space(data, source, sample, seed)
        groups = tuple(groups) if groups else names
    else:
        config, file_epochs, what = data, data.get("n_epochs"), source
        if data.get("layers") is not None and not groups:
            fix = "pass --groups with the layer groups, bottom to top, e.g. --groups embed,head"
            message = "names the model's modules, so its groups are not known without the model"
            raise ConfigError([Problem("layers", message, fix)], source)
    budget = n_epochs if n_epochs is not None else file_epochs
    problems = _n_epochs(budget)
    if problems:
        raise ConfigError(problems, source)
    try:
        frame = _preview(config, budget, steps_per_epoch, groups or None)
    except ConfigError as error:
        raise error.with_source(source) from None
    return Preview(source, what, dict(config), budget, steps_per_epoch, one_based(frame))


def one_based(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (a `preview_lrs` table) with its epochs, steps and frozen epochs counted from 1."""
    shifted = frame.copy()
    shifted.index = shifted.index + 1
    shifted.index.name = frame.index.name
    if "epoch" in shifted.columns:
        shifted["epoch"] = shifted["epoch"] + 1
    frozen = frame.attrs.get("frozen", {})
    shifted.attrs["frozen"] = {name: [e + 1 for e in epochs] for name, epochs in frozen.items()}
    return shifted


def preview_text(preview: Preview, fmt: str = "table", max_rows: int = MAX_TABLE_ROWS) -> str:
    """The table as CSV (every row, full precision) or as aligned text (at most `max_rows`)."""
    frame = preview.frame
    if fmt == "csv":
        return frame.to_csv()
    text = frame.to_string(float_format=lambda v: f"{v:.4g}", max_rows=max_rows)
    if len(frame) > max_rows:
        text += f"\n({len(frame)} rows; --format csv prints every one)"
    return text + "\n"


def preview_header(preview: Preview) -> str:
    """One line saying what the table shows: the file or sample, budget and schedule."""
    unit = "optimizer step" if preview.frame.index.name == "step" else "epoch"
    steps = f", {preview.steps_per_epoch} steps per epoch" if preview.steps_per_epoch else ""
    schedule = preview.config.get("lr_scheduling")
    shown = f"; lr_scheduling {json.dumps(schedule)}" if schedule is not None else ""
    return (
        f"lr of every group per {unit}: {preview.what}, n_epochs {preview.n_epochs}{steps}"
        f"{shown} (epochs from 1; frozen: 0; plateau rules shown without reductions)"
    )


def _groups(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r}: write group names separated by commas")
    return names


def add_preview_parsers(commands: Any) -> None:
    """The `preview` and `schedules` subcommands on the CLI's subparsers."""
    preview = commands.add_parser(
        "preview", help="print every group's lr per epoch (or step) and plot it; no training"
    )
    preview.add_argument("file", help="a config in the seed format (YAML/JSON) or a space file")
    preview.add_argument(
        "--n-epochs", type=positive_int, help="the run's length (default: the file's)"
    )
    preview.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        help="batches per epoch: step-wise schedules need it",
    )
    preview.add_argument("--out", help="the PNG to write (default: results/preview/<file>.png)")
    preview.add_argument("--no-plot", action="store_true", help="print the table only")
    preview.add_argument("--format", choices=FORMATS, default="table", help="table or csv")
    preview.add_argument("--groups", type=_groups, help="group names, e.g. backbone,head")
    preview.add_argument(
        "--sample", type=positive_int, default=1, help="space file: which sample (default 1)"
    )
    preview.add_argument(
        "--seed", type=sampler_seed, help="space file: sampling seed (default: its own)"
    )
    schedules = commands.add_parser(
        "schedules", help="list the registered schedules: unit, hyperparameters, description"
    )
    schedules.add_argument("names", nargs="*", help="only these (default: all)")


def _run_preview(args: argparse.Namespace) -> int:
    from trainables.lr.preview_plot import plot_preview

    preview = preview_file(
        args.file,
        n_epochs=args.n_epochs,
        steps_per_epoch=args.steps_per_epoch,
        groups=args.groups,
        sample=args.sample,
        seed=args.seed,
    )
    notes = sys.stderr if args.format == "csv" else sys.stdout
    print(preview_header(preview), file=notes)
    print(preview_text(preview, args.format), end="")
    if not args.no_plot:
        out = (
            Path(args.out) if args.out else Path("results/preview") / f"{Path(args.file).stem}.png"
        )
        title = f"lr per group: {preview.what}"
        try:
            written = plot_preview(preview.frame, out, title=title)
        except OSError as error:
            problem = Problem("--out", f"is {str(out)!r}, but cannot be written ({error})")
            raise ConfigError([problem], "preview") from None
        print(f"plot: {written}", file=notes)
    return 0


def _run_schedules(args: argparse.Namespace) -> int:
    from trainables.lr.schedules.catalog import schedule_catalog

    print(schedule_catalog(args.names))
    return 0


#: the handlers of the subcommands `add_preview_parsers` adds, by name
PREVIEW_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "preview": _run_preview,
    "schedules": _run_schedules,
}
