"""Shared fixtures: one checker per session (building engines and loading weights is slow)."""
from __future__ import annotations

import pytest

from assistant import Checker


@pytest.fixture(scope="session")
def rules_checker() -> Checker:
    return Checker(meaning=False)


@pytest.fixture(scope="session")
def checker() -> Checker:
    return Checker()
