"""`python -m tuner ...` (see `tuner.cli`)."""

from __future__ import annotations

import os
import sys

# Ray reads this once, at its first import: keep a local Ray on 127.0.0.1 (DESIGN.md §6).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from tuner.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
