"""Fixtures shared by every test directory."""
from __future__ import annotations

import pytest

from tests.factsfix import make_facts as _make_facts


@pytest.fixture
def make_facts():
    """make_facts(**overrides) -> a fresh facts document (see tests/factsfix.py)."""
    return _make_facts
