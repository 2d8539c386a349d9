"""Shared fixtures of the whole suite."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support import FLOWS, load_flow


@pytest.fixture
def valid_flow() -> Callable[[str], type]:
    """Load a flow from tests/flows/valid by file stem."""
    return lambda stem: load_flow(FLOWS / "valid" / f"{stem}.py")
