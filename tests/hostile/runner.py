"""Feed every case of a written corpus to the CLI's entry point, in this one fresh process.

    python -m tests.hostile.runner MANIFEST_JSON OUT_JSON

For each case and command (`validate`, then `run` unless `validate` accepted the file) it
calls `tuner.cli.main([command, file])` and records the exit code, stdout, stderr, the wall time,
which of the case's `not_imported` modules the call imported, whether `ray` is imported
afterwards and whether the case's results folder exists. At the end it records this process's
live children (a Ray would have started some).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def children(pid: int) -> list[str]:
    """Command lines of the live child processes of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(cmdline)
    return found


def run_case(case: dict[str, Any], command: str) -> dict[str, Any]:
    """One call of the CLI's entry point, and what it left behind."""
    from tuner.cli import main

    before = set(sys.modules)
    err, out = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main([command, case["file"]])
        except SystemExit as exit_:  # argparse
            code = exit_.code
        except BaseException as error:  # noqa: BLE001 (recorded: the test fails on it)
            code = f"raised {type(error).__name__}: {error}"
    seconds = time.perf_counter() - start
    imported = [m for m in case["not_imported"] if m in sys.modules and m not in before]
    return {
        "name": case["name"],
        "file": case["file"],
        "command": command,
        "code": code,
        "stderr": err.getvalue(),
        "stdout": out.getvalue(),
        "seconds": seconds,
        "imported": imported,
        "ray_imported": "ray" in sys.modules,
        "written": os.path.exists(case["results"]),
    }


def main(manifest_file: str, out_file: str) -> None:
    manifest = json.loads(Path(manifest_file).read_text())
    sys.path.insert(0, manifest["modules"])
    results = []
    for case in manifest["cases"]:
        for command in case["commands"]:
            if results and results[-1]["name"] == case["name"] and results[-1]["code"] == 0:
                # a file `validate` accepted: never `run` it (that would start a Ray)
                results.append({**results[-1], "command": command, "code": "not run"})
                continue
            results.append(run_case(case, command))
    report = {"results": results, "children": children(os.getpid())}
    Path(out_file).write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:3])
