"""Fixtures of the ledger tests: ``world`` (tests/ledger/_world.py)."""

from __future__ import annotations

import pytest

from tests.ledger._world import World, make_world


@pytest.fixture
def world() -> World:
    """An application with two departments, a system, a conditional resource and a request."""
    return make_world()
