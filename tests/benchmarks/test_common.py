"""The benchmark helpers: BENCHMARKS.md sections, spreads, best-so-far curves and summaries."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks._common import spread, write_section
from benchmarks.search_efficiency import curve, summarize


def test_write_section_replaces_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nintro\n\n## A\n\nold a\n\n## B\n\nkeep b\n")
    write_section("A", "new a\n", path)
    assert path.read_text() == "# Benchmarks\n\nintro\n\n## A\n\nnew a\n\n## B\n\nkeep b\n"
    write_section("C", "c body", path)
    assert path.read_text().endswith("## B\n\nkeep b\n\n## C\n\nc body\n")
    write_section("B", "b2", path)
    text = path.read_text()
    assert "keep b" not in text and "## B\n\nb2\n\n## C\n\nc body\n" in text


def test_spread_is_median_min_max() -> None:
    assert spread([3.0, 1.0, 2.0]) == "2.00 (1.00-3.00)"
    assert spread([0.25], 3) == "0.250"
    assert spread([]) == "—"


def test_curve_is_best_so_far_ignoring_non_finite() -> None:
    arrivals = [("a", 1, 3.0), ("b", 1, math.nan), ("a", 2, 2.5), ("b", 2, 4.0)]
    assert curve(arrivals) == [3.0, 3.0, 2.5, 2.5]


def test_summarize_counts_epochs_to_the_random_median_target() -> None:
    runs = {
        "random": {0: [5.0, 4.0, 3.0, 2.0], 1: [6.0, 5.0, 4.0, 4.0], 2: [3.0, 3.0, 3.0, 3.0]},
        "tpe_asha": {0: [4.0, 2.0], 1: [3.5, 3.5, 3.5], 2: [2.9, 2.9]},
    }
    s = summarize(runs)
    assert s["target"] == 3.0  # median of the random finals 2, 4, 3
    assert s["budget"] == 2  # the fewest epochs any run consumed
    assert s["rows"]["random"]["epochs_to_target"] == [3, 1]
    assert s["rows"]["random"]["reached"] == 2
    assert s["rows"]["tpe_asha"]["epochs_to_target"] == [2, 1]
    assert s["rows"]["tpe_asha"]["best_at_budget"] == [2.0, 3.5, 2.9]
    assert s["rows"]["tpe_asha"]["total_epochs"] == [2.0, 3.0, 2.0]
