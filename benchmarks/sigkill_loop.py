"""Run the SIGKILL resume test N times in a row: pass/fail counts and each run's duration.

    python -m benchmarks.sigkill_loop --runs 30 --log sigkill_loop.log

Each run is a fresh `pytest` process on
`tests/tuner/test_reliability_driver.py::test_sigkilled_driver_resumes_to_a_complete_record`
(a real `python -m tuner run` SIGKILLed with its process group once three trials ended and a
running one is between rungs, then `python -m tuner resume` checked record by record). A
failing run's output goes into the log. The exit code is 0 only when every run passed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST = "tests/tuner/test_reliability_driver.py::test_sigkilled_driver_resumes_to_a_complete_record"


def run_once(timeout: float) -> tuple[bool, float, str]:
    """One pytest run of the test: (passed, seconds, output)."""
    basetemp = tempfile.mkdtemp(prefix="sigkill_loop_")  # its own, removed after the run
    command = [sys.executable, "-m", "pytest", TEST, "-x", "-q", "-p", "no:cacheprovider"]
    command.append(f"--basetemp={basetemp}")
    start = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
        )
        passed, output = done.returncode == 0, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        passed, output = False, f"timed out after {timeout:g} s\n{expired.stdout or ''}"
    finally:
        shutil.rmtree(basetemp, ignore_errors=True)
    return passed, time.monotonic() - start, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="how many runs (default 30)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument("--log", type=Path, help="append each run's line (and failures) here")
    parser.add_argument("--label", default="", help="a name for this loop in its log lines")
    args = parser.parse_args(argv)

    def say(text: str) -> None:
        print(text, flush=True)
        if args.log:
            with args.log.open("a") as log:
                log.write(text + "\n")

    durations, failures = [], 0
    say(f"sigkill loop: {args.runs} runs of {TEST}")
    for index in range(1, args.runs + 1):
        passed, seconds, output = run_once(args.timeout)
        durations.append(seconds)
        failures += not passed
        verdict = "pass" if passed else "FAIL"
        say(f"{args.label}run {index}/{args.runs}: {verdict} in {seconds:.1f} s ({time.ctime()})")
        if not passed:
            say(output[-6000:])
    mean = sum(durations) / len(durations)
    say(
        f"passed {args.runs - failures} of {args.runs}, failed {failures}; "
        f"duration min {min(durations):.1f} s, mean {mean:.1f} s, max {max(durations):.1f} s"
    )
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
