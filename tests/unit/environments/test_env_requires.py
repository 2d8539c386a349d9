"""grange's requirements on the task dependencies an environment may bring itself."""

from __future__ import annotations

import pytest

from grange.environments.requires import satisfies, task_requirements


def test_granges_own_requirements_are_read() -> None:
    needs = task_requirements()
    assert needs["click"].startswith(">=8") and needs["pathspec"].startswith(">=0.")


@pytest.mark.parametrize(
    ("version", "spec", "ok"),
    [
        ("7.1.2", ">=8.2", False),
        ("8.2.0", ">=8.2", True),
        ("8.10", ">=8.2", True),
        ("8.2.1", ">=8.2,<9", True),
        ("9.0", ">=8.2,<9", False),
        ("0.11.2", ">=0.12", False),
        ("0.12.1", ">=0.12", True),
        ("1.4.2", "~=1.4", True),
        ("2.0", "~=1.4", False),
    ],
)
def test_satisfies(version: str, spec: str, ok: bool) -> None:
    assert satisfies(version, spec) is ok
