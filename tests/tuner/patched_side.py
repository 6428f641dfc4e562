"""A marker for tests of the patched side of `tuner.ray_patches`' gate: they run where the
gate is open (the Ray the patches were written for) and are skipped where it is closed (there
the stock side runs: `tests/tuner/test_ray_patches.py`, `test_local_ray.py`)."""

from __future__ import annotations

import pytest

from tuner.ray_patches import patches_enabled

patched_side = pytest.mark.skipif(
    not patches_enabled(), reason="the patches of Ray's internals are off here (stock Ray)"
)
