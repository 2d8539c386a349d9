"""``Runner`` and ``NBRunner``: flows run from Python, in a subprocess, read back with the client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grange import NBRunner, Runner
from grange.exceptions import RunnerError
from grange.runner import ExecutingRun, nbrun
from support import FLOWS, RUN_FLOWS, USER

CHATTY = FLOWS / "runner" / "chatty.py"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GRANGE_DATASTORE_ROOT": str(tmp_path / ".grange"), "GRANGE_USER": USER, **extra}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its parent) is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _group(pgid: int) -> list[int]:
    """The running processes of process group ``pgid`` (the run's, as it leads it)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def test_blocking_run_returns_the_run_with_its_artifacts(tmp_path: Path) -> None:
    with Runner(RUN_FLOWS / "params.py", show_output=False, env=_env(tmp_path)) as runner:
        result = runner.run(
            alpha=0.3, flag=True, config={"k": [1, 2]}, learning_rate=0.2, tags=["x"]
        )
    assert result.status == "successful", result.stdout + result.stderr
    assert result.returncode == 0
    run = result.run
    assert run.pathspec == f"ParamsRunFlow/{result.run_id}"
    assert run.successful and "x" in run.tags
    assert run["start"].task.data.seen == {
        "alpha": 0.3, "count": 2, "names": ["a", "b"], "flag": True,
        "config": {"k": [1, 2]}, "lr": 0.2,
    }  # fmt: skip
    assert f"Run ParamsRunFlow/{result.run_id} succeeded" in result.stdout


def test_top_level_options_and_cwd_decide_where_the_run_is_read(tmp_path: Path) -> None:
    # The client reads the store the subprocess wrote: --datastore-root relative to cwd.
    (tmp_path / "work").mkdir()
    runner = Runner(
        RUN_FLOWS / "linear.py", show_output=False, cwd=tmp_path / "work",
        datastore_root="elsewhere", env={"GRANGE_USER": USER},
    )  # fmt: skip
    result = runner.run()
    assert result.status == "successful", result.stdout + result.stderr
    assert (tmp_path / "work" / "elsewhere").is_dir()
    assert result.run["end"].task.data.counter == 20


def test_a_failing_flow_is_a_failed_run_then_resumed(tmp_path: Path) -> None:
    failing = Runner(RUN_FLOWS / "fail.py", show_output=False, env=_env(tmp_path, FAIL_ITEM="2"))
    failed = failing.run()
    assert failed.status == "failed"
    assert failed.returncode == 1
    assert failed.run is not None and not failed.run.successful
    output = failed.stdout + failed.stderr
    assert "item 2 failed on purpose" in output
    assert f"resume --origin-run-id {failed.run_id}" in output

    resumed = Runner(RUN_FLOWS / "fail.py", show_output=False, env=_env(tmp_path)).resume(
        origin_run_id=failed.run_id
    )
    assert resumed.status == "successful", resumed.stdout + resumed.stderr
    assert resumed.run.id != failed.run.id
    assert resumed.run["join"].task.data.outs == [10, 20, 30]
    assert resumed.run["end"].task.data.origin == failed.run_id


def test_a_flow_that_cannot_start_is_a_failed_run_with_the_commands_message(
    tmp_path: Path,
) -> None:
    missing = Runner(tmp_path / "nope.py", show_output=False, env=_env(tmp_path)).run()
    assert missing.status == "failed" and missing.returncode != 0
    assert missing.run is None and missing.run_id is None
    assert "nope.py" in missing.stderr

    broken = tmp_path / "broken.py"
    broken.write_text(
        "from grange import FlowSpec, step\n\nclass B(FlowSpec):\n    def start(self)\n"
    )
    result = Runner(broken, show_output=False, env=_env(tmp_path)).run(alpha=1)
    assert result.status == "failed" and result.run is None
    assert "SyntaxError" in result.stderr and "line 4" in result.stderr


def test_show_output_echoes_the_run(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    result = Runner(RUN_FLOWS / "linear.py", env=_env(tmp_path)).run()
    assert f"Run LinearRunFlow/{result.run_id} succeeded" in capfd.readouterr().out


def test_async_run_streams_lines_before_the_end_and_kill_ends_every_process(
    tmp_path: Path,
) -> None:
    async def scenario() -> tuple[list[str], str, int | None, str]:
        runner = Runner(CHATTY, env=_env(tmp_path, CHATTY_DIR=str(tmp_path)))
        executing = await runner.async_run()
        assert executing.status == "running"
        leader = executing.command_obj.process.pid
        assert executing.run is not None  # async_run returns once the run has started
        lines: list[str] = []
        async for _, line in executing.stream_log("stdout"):
            lines.append(line)
            if sum("tick" in seen for seen in lines) >= 3:
                break
        assert executing.status == "running"  # the lines came while it ran
        executing.kill()
        await executing.wait()
        assert _group(leader) == []  # no task, fork server or runtime left
        status, code = executing.status, executing.returncode
        runner.cleanup()
        return lines, status, code, executing.stdout

    lines, status, code, stdout = asyncio.run(scenario())
    assert any("tick 2" in line for line in lines)
    assert status == "failed" and code != 0
    assert "tick 2" in stdout  # still readable after cleanup
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert pids and not any(_alive(pid) for pid in pids)


def test_wait_with_a_timeout_kills_the_run(tmp_path: Path) -> None:
    async def scenario() -> str:
        async with Runner(CHATTY, env=_env(tmp_path, CHATTY_DIR=str(tmp_path))) as runner:
            executing = await runner.async_run()
            await executing.wait(timeout=0.5)
            return executing.status

    assert asyncio.run(scenario()) == "timeout"
    assert not any(_alive(int(p.read_text())) for p in tmp_path.glob("*.pid"))


def test_async_run_to_the_end_streams_every_line(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[tuple[int, str]], str, list[str]]:
        async with Runner(CHATTY, env=_env(tmp_path, CHATTY_DIR=str(tmp_path))) as runner:
            executing = await runner.async_run()
            (tmp_path / "stop").write_text("")
            await executing.wait()
            lines = [item async for item in executing.stream_log("stdout")]
            # From a position: the lines after it, as a second reader continues.
            rest = [line async for _, line in executing.stream_log("stdout", lines[0][0])]
            return lines, executing.status, rest

    lines, status, rest = asyncio.run(scenario())
    assert status == "successful"
    assert rest == [line for _, line in lines[1:]]
    assert any("succeeded" in line for _, line in lines)


def test_the_context_manager_kills_a_running_run_and_removes_its_files(tmp_path: Path) -> None:
    async def scenario() -> tuple[ExecutingRun, Path]:
        with Runner(CHATTY, env=_env(tmp_path, CHATTY_DIR=str(tmp_path))) as runner:
            executing = await runner.async_run()
            folder = runner._folder
            assert folder is not None and folder.is_dir()
            # The run id comes before the first task: wait for a task to be killed too.
            while executing.status == "running" and not any(tmp_path.glob("*.pid")):
                await asyncio.sleep(0.05)
        return executing, folder

    executing, folder = asyncio.run(scenario())
    assert executing.status == "failed"
    assert not folder.exists()
    assert isinstance(executing.stdout, str)  # kept in memory before the files went
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert pids and not any(_alive(pid) for pid in pids)


def test_bad_arguments_raise_at_once(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match="unknown top-level option 'datastore_rot'"):
        Runner(RUN_FLOWS / "params.py", datastore_rot="x")
    runner = Runner(RUN_FLOWS / "params.py", show_output=False, env=_env(tmp_path))
    with pytest.raises(RunnerError, match="unknown run option 'alhpa'") as err:
        runner.run(alhpa=0.3)
    assert "alpha" in str(err.value)  # the fix lists the flow's parameters
    with pytest.raises(RunnerError, match="'config' cannot be passed"):
        runner.run(config={"when": object()})
    with pytest.raises(RunnerError, match="run_id_file"):
        runner.run(run_id_file="x")
    assert not runner._started  # nothing was started
    assert not (tmp_path / ".grange").exists()


# -- NBRunner ------------------------------------------------------------------------------

EARLIER_CELL = "import os\nfrom grange import FlowSpec, step\nx = 1\n"
FLOW_CELL = textwrap.dedent(
    """\
    class CellFlow(FlowSpec):
        @step
        def start(self):
            self.where = os.path.basename(os.getcwd())
            self.next(self.end)

        @step
        def end(self):
            pass

    run = NBRunner(CellFlow, base_dir=BASE).nbrun()
    """
)


class _History:
    def __init__(self, cells: list[str]) -> None:
        self.input_hist_parsed = ["", *cells]


class _Shell:
    """What NBRunner reads of IPython: the transformed input history, the running cell last."""

    def __init__(self, cells: list[str]) -> None:
        self.history_manager = _History(cells)


def test_nbrunner_runs_the_flow_of_the_simulated_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nbrun, "_shell", lambda: _Shell([EARLIER_CELL, FLOW_CELL]))
    namespace = {"NBRunner": NBRunner, "BASE": str(tmp_path)}
    exec(EARLIER_CELL, namespace)
    exec(FLOW_CELL.split("run = ")[0], namespace)
    flow = namespace["CellFlow"]
    assert isinstance(flow, type)
    runner = NBRunner(flow, base_dir=str(tmp_path), show_output=False, env=_env(tmp_path))
    text = Path(runner.flow_file).read_text()
    assert "NBRunner(" not in text and 'if __name__ == "__main__":\n    CellFlow()' in text
    run = runner.nbrun()
    assert run.successful
    assert run["start"].task.data.where == tmp_path.name
    assert not Path(runner.flow_file).exists()  # nbrun cleaned up


def test_nbrunner_outside_a_notebook_or_cell_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(nbrun, "_shell", lambda: None)
    with pytest.raises(RunnerError, match="no IPython shell is running"):
        NBRunner(type("SomeFlow", (), {}))
    monkeypatch.setattr(nbrun, "_shell", lambda: _Shell(["x = 1\n"]))
    with pytest.raises(RunnerError, match="class SomeFlow is not defined in the notebook cell"):
        NBRunner(type("SomeFlow", (), {}), base_dir=str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_nbrunner_a_flow_that_fails_to_start_raises_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cell = "from grange import FlowSpec\nimport no_such_module_here\nclass NoFlow(FlowSpec):\n    pass\n"
    monkeypatch.setattr(nbrun, "_shell", lambda: _Shell([cell]))
    runner = NBRunner(type("NoFlow", (), {}), base_dir=str(tmp_path), show_output=False)
    with pytest.raises(RunnerError, match="no_such_module_here"):
        runner.nbrun()
    assert not list(tmp_path.glob("NoFlow*.py"))


def test_nbrunner_in_a_real_ipython_shell(tmp_path: Path) -> None:
    pytest.importorskip("IPython")
    script = textwrap.dedent(
        f"""\
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        for cell in ({EARLIER_CELL!r}, "from grange import NBRunner\\nBASE = {str(tmp_path)!r}",
                     {FLOW_CELL!r}, "print('RESULT', run.pathspec, run['start'].task.data.where)"):
            result = shell.run_cell(cell, store_history=True)
            result.raise_error()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env={**os.environ, **_env(tmp_path)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"RESULT CellFlow/1 {tmp_path.name}" in done.stdout
