"""Fixtures of the LR library tests."""

from __future__ import annotations

import pytest

from tests.lr.helpers import SeedModel, make_model


@pytest.fixture
def model() -> SeedModel:
    return make_model()
