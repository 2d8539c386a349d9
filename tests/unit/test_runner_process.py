"""``FlowProcess``: its output stays readable after cleanup, and a command that cannot
start is a ``RunnerError``, not an ``OSError``/``ValueError`` from ``subprocess``."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from grange.exceptions import RunnerError
from grange.runner.process import FlowProcess


def test_stream_log_after_the_files_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    proc = FlowProcess(
        [sys.executable, "-c", "print('one'); print('two')"],
        env={},
        cwd=str(tmp_path),
        folder=folder,
    )
    proc.wait_blocking(show_output=False)
    proc.keep_output()
    shutil.rmtree(folder)

    async def lines() -> list[tuple[int, str]]:
        return [item async for item in proc.stream_log("stdout")]

    assert asyncio.run(lines()) == [(4, "one"), (8, "two")]
    assert proc.read("stdout") == "one\ntwo\n"


@pytest.mark.parametrize("bad", ["a\0b", "x" * 200_000 * 8], ids=["nul", "e2big"])
def test_a_command_that_cannot_start_is_a_runner_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RunnerError, match="cannot start the flow's command"):
        FlowProcess([sys.executable, "-c", "pass", bad], env={}, cwd=str(tmp_path), folder=tmp_path)
