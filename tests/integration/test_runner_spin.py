"""``Runner.spin`` / ``async_spin``: a step re-run from Python, read back as an ``ExecutingTask``."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from grange import Run, Runner
from grange.exceptions import ObjectNotFound, RunnerError
from grange.runner import ExecutingTask
from support import FLOWS, USER

LINEAR = FLOWS / "spin" / "linear.py"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(LINEAR, tmp_path / "linear.py")
    return tmp_path


def _runner(project: Path) -> Runner:
    env = {"GRANGE_DATASTORE_ROOT": str(project / ".grange"), "GRANGE_USER": USER}
    return Runner(project / "linear.py", show_output=False, env=env, cwd=project)


def test_spin_reruns_the_edited_step_and_returns_its_task(project: Path) -> None:
    with _runner(project) as runner:
        first = runner.run(alpha=3.0)
        assert first.status == "successful"
        source = project / "linear.py"
        source.write_text(source.read_text().replace("* self.alpha  # EDIT", "* self.alpha + 1"))
        spun = runner.spin("train")
        assert isinstance(spun, ExecutingTask)
        assert spun.status == "successful", spun.stderr
        assert spun.run_id is not None and spun.run_id.startswith("spin-")
        assert spun.task.pathspec.startswith(f"SpinLinearFlow/{spun.run_id}/train/")
        assert spun.task.data.model == 19.0  # the recorded inputs (alpha 3) through the new code
        assert "training on [1, 2, 3]" in spun.stdout
        again = runner.spin(f"{first.run_id}/train", persist=False)
        assert again.status == "successful" and again.task is None  # nothing kept
    # the real run is untouched and no spin is a real run
    real = Run(f"SpinLinearFlow/{first.run_id}", _namespace_check=False, _stores=runner.stores)
    assert real["train"].task.data.model == 18.0
    with pytest.raises(ObjectNotFound):
        Run(f"SpinLinearFlow/{spun.run_id}", _namespace_check=False, _stores=runner.stores)


def test_async_spin_waits_and_a_failed_spin_is_a_status(project: Path) -> None:
    async def go() -> ExecutingTask:
        with _runner(project) as runner:
            assert runner.run().status == "successful"
            source = project / "linear.py"
            source.write_text(source.read_text().replace("# EDIT", "; raise ValueError('bad')"))
            executing = await runner.async_spin("train")
            await executing.wait()
            return executing

    spun = asyncio.run(go())
    assert spun.status == "failed" and spun.returncode == 1
    assert "ValueError: bad" in spun.stderr


def test_spin_refuses_options_it_does_not_take(project: Path) -> None:
    with _runner(project) as runner, pytest.raises(RunnerError, match="alpha"):
        runner.spin("train", alpha=2.0)
