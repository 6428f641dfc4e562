"""`python -m tuner`: run, validate, sample, resume, best, export, report, preview, schema.

Exit codes: 0 success, 2 bad input (every problem listed with file and dotted path; Ray is never
started for a bad file), 1 failure (the sweep could not run, or no trial ran the full budget, or
the local Ray's GCS died: the tables hold what was recorded and the resume command is printed),
130 interrupted (Ctrl-C: Ray stopped gracefully, its state is saved, `resume` continues; a
second Ctrl-C skips that final save and `resume` continues from Ray's last periodic snapshot),
143 terminated (SIGTERM, as Slurm and Kubernetes send before killing a job: handled exactly as
Ctrl-C, a second SIGTERM as a second Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from trainables.lr.errors import ConfigError, TunerError
from tuner._cli_args import budget_argument, positive_int, sampler_seed
from tuner.preview import PREVIEW_COMMANDS, add_preview_parsers
from tuner.space_schema import SCHEMA_COMMANDS, add_schema_parser

OK, FAILURE, BAD_INPUT, INTERRUPTED, TERMINATED = 0, 1, 2, 130, 143
_TRUST_HELP = (
    "load the folder's saved Ray state although it is not signed with your key (a folder "
    "from someone else, or made before signing): loading it runs any code its pickles name"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m tuner",
        description="Tune hierarchical learning-rate configs with Ray Tune, Optuna and ASHA.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the sweep a space file describes")
    run.add_argument("file", help="space file (YAML)")
    run.add_argument("--name", help="experiment name (default: the file's `name`)")
    run.add_argument("--num-samples", type=positive_int, help="number of trials")
    run.add_argument("--address", help="Ray cluster: auto, ray://host:port or host:port")
    run.add_argument("--storage-path", help="results root (default: the file's, `results`)")
    run.add_argument("--seed", type=sampler_seed, help="sampler seed (default: the file's)")
    run.add_argument(
        "--budget",
        type=budget_argument,
        help="stop asking for trials once spent: epochs=N and/or wall_time=2h (or just 2h)",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue the experiment of that name if its folder exists (else: refused); "
        "with --num-samples, grow it to that many trials",
    )
    run.add_argument("--trust", action="store_true", help=_TRUST_HELP)

    validate = commands.add_parser("validate", help="check a space file without starting Ray")
    validate.add_argument("file")

    sample = commands.add_parser("sample", help="print sampled configs without training")
    sample.add_argument("file")
    sample.add_argument("--n", type=positive_int, default=5, help="how many (default 5)")
    sample.add_argument("--seed", type=sampler_seed, help="sampling seed (default: the file's)")

    resume = commands.add_parser("resume", help="continue an interrupted sweep")
    resume.add_argument("dir", help="experiment folder, e.g. results/quickstart")
    resume.add_argument("--address", help="Ray cluster (default: as the sweep was run)")
    resume.add_argument("--trust", action="store_true", help=_TRUST_HELP)
    resume.add_argument(
        "--num-samples", type=positive_int, help="grow the sweep to this many trials in all"
    )

    best = commands.add_parser("best", help="print the top configs in the seed format")
    best.add_argument("dir", help="experiment folder, e.g. results/quickstart")
    best.add_argument("--k", type=positive_int, default=5, help="how many (default 5)")
    best.add_argument(
        "--format", choices=("yaml", "json", "table"), default="yaml", help="(default yaml)"
    )

    export = commands.add_parser("export", help="rewrite the result tables and best configs")
    export.add_argument("dir", help="experiment folder, e.g. results/quickstart")
    export.add_argument("--k", type=positive_int, default=5, help="best configs (default 5)")

    report = commands.add_parser("report", help="plots and report.html of a sweep")
    report.add_argument("dir", help="experiment folder, e.g. results/quickstart")
    report.add_argument("--k", type=positive_int, default=5, help="top trials (default 5)")

    add_preview_parsers(commands)  # preview, schedules
    add_schema_parser(commands)
    return parser


def _validate(args: argparse.Namespace) -> int:
    from tuner.space import load_space

    space = load_space(args.file)
    asha = (
        f"ASHA grace_period {space.asha.grace_period}, reduction_factor "
        f"{space.asha.reduction_factor}"
        if space.asha is not None
        else "no early stopping"
    )
    print(
        f"{args.file}: OK: {space.name}, trainable {space.trainable}, {space.num_samples} "
        f"trials x {space.n_epochs} epochs, {space.metric} ({space.mode}), searcher "
        f"{space.searcher.name} (seed {space.searcher.seed}), {asha}"
    )
    return OK


def _sample(args: argparse.Namespace) -> int:
    from tuner.space import load_space, sample_configs

    space = load_space(args.file)
    seed = args.seed if args.seed is not None else (space.searcher.seed or 0)
    configs = sample_configs(space, n=args.n, seed=seed)
    print(yaml.safe_dump(configs, sort_keys=False, default_flow_style=False), end="")
    return OK


def _finish(outcome: Any, stopped: int = INTERRUPTED) -> int:
    from tuner.summary import summary_text

    print()
    print(summary_text(outcome))
    command = f"python -m tuner resume {outcome.experiment.dir}"
    if outcome.gcs_lost:
        print(
            f"\nRay's GCS process died: the tables hold what was recorded; start the trials "
            f"that did not run with: {command}",
            flush=True,
        )
        return FAILURE
    if outcome.interrupted:
        print(f"\ninterrupted: state saved; continue with: {command}", flush=True)
        return stopped
    return OK if outcome.ok else FAILURE


class _Stops:
    """SIGTERM handled as Ctrl-C: the handler calls whatever handles SIGINT at that moment (Ray
    Tune's graceful stop during a sweep, then Python's KeyboardInterrupt), and `code` becomes
    143. Installed again once Ray is up: `ray.init` puts its own SIGTERM handler in place."""

    def __init__(self) -> None:
        self.code = INTERRUPTED

    def install(self) -> None:
        if signal.getsignal(signal.SIGTERM) != self._on_sigterm:
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        self.code = TERMINATED
        handler = signal.getsignal(signal.SIGINT)
        if not callable(handler):
            raise KeyboardInterrupt
        handler(signal.SIGINT, frame)


def _quiet_ray_and_optuna() -> None:
    """Our progress lines replace Ray's tables; Optuna's per-trial log lines are noise here."""
    import optuna

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _announce(session: Any, experiment: Any) -> None:
    where = {"local": "a new local Ray", "cluster": "the Ray cluster", "reused": "the running Ray"}
    address = f" {session.address}" if session.address else ""
    print(f"sweep {experiment.name} -> {experiment.dir}", flush=True)
    print(
        f"running on {where[session.kind]}{address} "
        f"(node {session.node_ip}, {session.num_cpus:g} CPUs)",
        flush=True,
    )


def _sweep(start: Callable[..., Any]) -> int:
    """Run a sweep (`start(announce, on_gcs_loss)`) and finish it; a second Ctrl-C (Ray's
    handler gives SIGINT back to Python after the first) arrives here as KeyboardInterrupt,
    before the final save: the resume command is printed all the same once Ray has saved some
    state. SIGTERM is handled as Ctrl-C (`_Stops`)."""
    announced: list[Any] = []
    stops = _Stops()
    before = signal.getsignal(signal.SIGTERM)
    stops.install()
    try:
        return _sweep_until_stopped(start, stops, announced)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if before is None else before)


def _sweep_until_stopped(start: Callable[..., Any], stops: _Stops, announced: list) -> int:
    """`_sweep` with SIGTERM handled by `stops`; `announced` collects the experiment."""

    def announce(session: Any, experiment: Any) -> None:
        stops.install()
        announced.append(experiment)
        _announce(session, experiment)

    def on_gcs_loss(outcome: Any) -> int:
        return _finish(outcome)

    try:
        outcome = start(announce, on_gcs_loss)
    except KeyboardInterrupt:
        from tuner.state_backup import state_files  # Ray Tune: imported once Ray is up

        if not announced or not state_files(announced[-1].dir):
            print("interrupted", file=sys.stderr)
            return stops.code
        command = f"python -m tuner resume {announced[-1].dir}"
        print(
            f"\ninterrupted before the final save; continue from Ray's last saved state "
            f"with: {command}",
            flush=True,
        )
        return stops.code
    return _finish(outcome, stops.code)


def _run(args: argparse.Namespace) -> int:
    from tuner.api import run_space

    _quiet_ray_and_optuna()
    return _sweep(
        lambda announce, on_gcs_loss: run_space(
            args.file,
            announce=announce,
            on_gcs_loss=on_gcs_loss,
            name=args.name,
            num_samples=args.num_samples,
            address=args.address,
            storage_path=args.storage_path,
            seed=args.seed,
            budget=args.budget,
            resume_existing=args.resume,
            trust=args.trust,
        )
    )


def _resume(args: argparse.Namespace) -> int:
    from tuner.api import resume

    _quiet_ray_and_optuna()
    return _sweep(
        lambda announce, on_gcs_loss: resume(
            args.dir,
            address=args.address,
            announce=announce,
            trust=args.trust,
            num_samples=args.num_samples,
            on_gcs_loss=on_gcs_loss,
        )
    )


def _best(args: argparse.Namespace) -> int:
    from tuner.results import best_text

    print(best_text(args.dir, k=args.k, fmt=args.format), end="")
    return OK


def _export(args: argparse.Namespace) -> int:
    from tuner.results import load

    paths = load(args.dir).write_exports(k=args.k)
    for path in (paths.csv, paths.parquet, paths.curves, paths.best_configs):
        print(path)
    return OK


def _report(args: argparse.Namespace) -> int:
    from tuner.report import write_report

    paths = write_report(args.dir, k=args.k)
    for path in (*paths.plots.values(), paths.html):
        print(path)
    return OK


_COMMANDS = {
    "run": _run,
    "validate": _validate,
    "sample": _sample,
    "resume": _resume,
    "best": _best,
    "export": _export,
    "report": _report,
    **PREVIEW_COMMANDS,
    **SCHEMA_COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m tuner` and the `tuner` script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return BAD_INPUT
    except TunerError as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # Ray or the system failed (no cluster at the address, ...)
        if os.environ.get("TUNER_TRACEBACK"):
            raise
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        print("(set TUNER_TRACEBACK=1 to see the traceback)", file=sys.stderr)
        return FAILURE
