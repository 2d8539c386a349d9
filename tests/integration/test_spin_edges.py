"""``spin`` at its edges: spins at once, what --artifacts-module may set, explicit
configs, a step that ends its process, where the spin store is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import grange
from flow_runs import clean_env
from test_spin import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.mark.slow
def test_spins_started_at_once_each_get_their_own_id(project: Project) -> None:
    project.ok("linear.py", "run")
    env = clean_env(GRANGE_USER="ada")
    spins = [
        subprocess.Popen(
            [sys.executable, "linear.py", "spin", "train"],
            cwd=project.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(6)
    ]
    outputs = [spin.communicate() for spin in spins]
    assert [spin.returncode for spin in spins] == [0] * 6, outputs
    project.spins()
    ids = sorted(r.id for r in grange.Flow("SpinLinearFlow").runs())
    assert ids == [f"spin-{n}" for n in range(1, 7)]
    grange.default_metadata()
