"""Shared fixtures: one loopback-only local Ray per test session, temporary results folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Ray binds the machine's network address unless this is set before it starts (DESIGN.md §6).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """One real local Ray cluster on 127.0.0.1 shared by the whole test session."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    yield
    ray.shutdown()


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A fresh results root for one test."""
    path = tmp_path / "results"
    path.mkdir()
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run slow end-to-end tests last, so fast failures surface first."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)
