"""``grange.testing.run_flow`` and the pytest fixtures ``grange_store``/``grange_run``:
whole runs in an isolated store, with flows defined in this module and flow files."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from grange import Flow, FlowSpec, Parameter, Runner, get_metadata, step
from grange.exceptions import HarnessError
from grange.testing import FlowFailed, run_flow
from grange.testing.flow import _class_file
from grange.testing.plugin import GrangeStore
from support import FLOWS as FLOWS_DIR
from support import RUN_FLOWS, load_flow

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent


class SquareFlow(FlowSpec):
    n = Parameter("n", default=2, type=int)

    @step
    def start(self):
        self.here = str(HERE)  # the module's own __file__, not a copy's
        self.square = self.n * self.n
        self.next(self.end)

    @step
    def end(self):
        if self.n < 0:
            raise ValueError("n is negative")


class FlakyFlow(FlowSpec):
    @step
    def start(self):
        from grange import current

        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.attempts = current.retry_count + 1
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_class_of_the_test_module_runs_and_stays_readable(tmp_path: Path) -> None:
    run = run_flow(SquareFlow, {"n": 3}, tmp_path=tmp_path, show_output=False)
    assert run.successful and run.data.square == 9 and run.data.here == str(HERE)
    assert run["end"].task.data.n == 3
    assert (tmp_path / ".grange").is_dir()


def test_with_maps_to_the_with_option(tmp_path: Path) -> None:
    run = run_flow(FlakyFlow, tmp_path=tmp_path, with_=["retry"], show_output=False)
    assert run.successful and run.data.attempts == 2
    failed = run_flow(FlakyFlow, tmp_path=tmp_path, show_output=False)
    assert not failed.successful and failed.id != run.id


def test_a_flow_file_and_its_parameters(tmp_path: Path) -> None:
    run = run_flow(RUN_FLOWS / "params.py", {"alpha": 0.3, "flag": True}, show_output=False)
    assert run.successful and run.data.alpha == 0.3


def test_a_class_of_a_flow_file_runs_that_file(tmp_path: Path) -> None:
    flow_cls = load_flow(RUN_FLOWS / "linear.py")
    assert _class_file(flow_cls, tmp_path) == str(RUN_FLOWS / "linear.py")
    assert _class_file(SquareFlow, tmp_path) != __file__  # a test module: a loader file
    run = run_flow(flow_cls, tmp_path=tmp_path, show_output=False)
    assert run.successful and run.pathspec.startswith("LinearRunFlow/")


def test_a_failed_run_is_returned_and_its_output_shown(capfd: pytest.CaptureFixture[str]) -> None:
    run = run_flow(SquareFlow, {"n": -1})
    assert run.finished and not run.successful
    assert "n is negative" in capfd.readouterr().out


def test_grange_variables_of_the_test_do_not_leak_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(elsewhere))
    monkeypatch.setenv("GRANGE_PROFILE", "no-such-profile")
    monkeypatch.setenv("GRANGE_CONFIG", str(tmp_path / "missing.toml"))
    run = run_flow(SquareFlow, tmp_path=tmp_path / "t", show_output=False)
    assert run.successful and run.data.square == 4
    assert not elsewhere.exists()


def test_a_profile_gives_its_settings_but_not_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "team-store"
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.team]\ndatastore_root = "{elsewhere}"\n')
    monkeypatch.setenv("GRANGE_CONFIG", str(config))
    run = run_flow(SquareFlow, tmp_path=tmp_path / "t", profile="team", show_output=False)
    assert run.successful and not elsewhere.exists()
    with pytest.raises(FlowFailed, match="nope"):
        run_flow(SquareFlow, tmp_path=tmp_path / "t", profile="nope", show_output=False)


def test_a_flow_that_cannot_start_raises_flow_failed(tmp_path: Path) -> None:
    with pytest.raises(FlowFailed, match="not a valid int") as info:
        run_flow(SquareFlow, {"n": "abc"}, tmp_path=tmp_path, show_output=False)
    assert "parameter 'n'" in info.value.output
    bad = tmp_path / "bad.py"
    bad.write_text("import no_such_module_here\n")
    with pytest.raises(FlowFailed, match="no_such_module_here"):
        run_flow(bad, show_output=False)


def test_a_class_defined_in_a_function_is_refused() -> None:
    class LocalFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(HarnessError, match="top level"):
        run_flow(LocalFlow)


def test_grange_store_sends_runner_cli_and_client_to_the_tmp_store(
    grange_store: GrangeStore, tmp_path: Path
) -> None:
    assert grange_store.root == tmp_path / ".grange"
    assert get_metadata() == f"local@{grange_store.root}"
    with Runner(RUN_FLOWS / "linear.py", show_output=False) as runner:
        result = runner.run()
    assert result.status == "successful", result.stderr
    assert result.run.pathspec.startswith("LinearRunFlow/")
    subprocess.run(
        [sys.executable, str(RUN_FLOWS / "linear.py"), "run"], check=True, capture_output=True
    )
    assert len(list(Flow("LinearRunFlow"))) == 2  # the client reads the same store
    assert grange_store.latest_run("LinearRunFlow").successful
    assert (grange_store.root / "LinearRunFlow").is_dir()


def test_grange_run_runs_into_the_store(
    grange_run: Callable[..., Any], grange_store: GrangeStore
) -> None:
    run = grange_run(SquareFlow, n=5)
    assert run.data.square == 25
    assert grange_store.flow("SquareFlow").latest_run.id == run.id
    assert Flow("SquareFlow").latest_run.data.square == 25


PROJECT_TEST = """
from grange import FlowSpec, Parameter, step
from grange.testing import run_step


class HelloFlow(FlowSpec):
    who = Parameter("who", default="world")

    @step
    def start(self):
        self.greeting = f"hello {self.who}"
        if self.who == "boom":
            raise ValueError("no greeting for boom")
        self.next(self.end)

    @step
    def end(self):
        pass


def test_step():
    assert run_step(HelloFlow, "start", params={"who": "ada"}).greeting == "hello ada"


def test_flow(grange_run, grange_store):
    run = grange_run(HelloFlow, who="bo")
    assert run.successful and run.data.greeting == "hello bo"
    assert (grange_store.root / "HelloFlow").is_dir()
"""

FAILING_TEST = """
from test_hello import HelloFlow


def test_failing_flow(grange_run):
    run = grange_run(HelloFlow, who="boom")
    assert run.successful
"""


@pytest.mark.slow
def test_the_plugin_in_a_project_with_only_grange_installed(pytester: pytest.Pytester) -> None:
    listed = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    listed.stdout.fnmatch_lines(["*grange_store*", "*grange_run*"])
    pytester.makepyfile(test_hello=PROJECT_TEST)
    passed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_hello.py")
    passed.assert_outcomes(passed=2)
    pytester.makepyfile(test_fails=FAILING_TEST)
    failed = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_fails.py")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*ValueError: no greeting for boom*"])


ROOT = Path(__file__).resolve().parents[2]


def _block(text: str, after: str) -> str:
    """The first ```python block after the line ``after``."""
    found = re.search(re.escape(after) + r".*?```python\n(.*?)```", text, re.S)
    assert found is not None, after
    return found.group(1)


@pytest.mark.slow
def test_the_readme_and_docs_testing_examples_pass(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text()
    docs = (ROOT / "docs" / "testing.md").read_text()
    pytester.makepyfile(
        train=_block(readme, "## A flow"),
        test_readme=_block(readme, "Test a step alone"),
        test_train=_block(docs, "# Testing flows"),
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_configs_are_passed_as_config_values(tmp_path: Path) -> None:
    flow = FLOWS_DIR / "spin" / "configured.py"
    run = run_flow(flow, tmp_path=tmp_path, configs={"cfg": {"scale": 3, "greeting": "yo"}})
    assert run.successful
    train = run["train"].task.data
    assert (train.model, train.greeting) == (18, "yo")
    assert run_flow(flow, tmp_path=tmp_path / "again")["train"].task.data.model == 12  # defaults


SLEEPY_FLOW = """
import os, time
from grange import FlowSpec, step

class SleepyFlow(FlowSpec):
    @step
    def start(self):
        with open(os.environ["PID_FILE"] + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(os.environ["PID_FILE"] + ".tmp", os.environ["PID_FILE"])
        time.sleep(600)
        open(os.environ["PID_FILE"] + ".finished", "w").close()
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SleepyFlow()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize(
    "call",
    [
        "from grange.testing import run_flow; run_flow('sleepy.py', tmp_path='.')",
        "from grange.testing import run_step; from sleepy import SleepyFlow; "
        "run_step(SleepyFlow, 'start')",
    ],
    ids=["run_flow", "run_step"],
)
def test_a_killed_test_process_stops_its_run(tmp_path: Path, call: str) -> None:
    import os
    import signal
    import time

    (tmp_path / "sleepy.py").write_text(SLEEPY_FLOW)
    pid_file = tmp_path / "task.pid"
    driver = subprocess.Popen(
        [sys.executable, "-c", call],
        cwd=tmp_path,
        env={**os.environ, "PID_FILE": str(pid_file)},
    )  # fmt: skip
    while not pid_file.exists():
        assert driver.poll() is None, "the run did not start its step"
        time.sleep(0.1)
    task = int(pid_file.read_text())
    driver.send_signal(signal.SIGTERM)  # as a CI job cancelled, without the test's cleanup
    assert driver.wait() == -signal.SIGTERM
    while True:  # the step's process ends with the run (else after its 600 s of sleep)
        try:
            os.kill(task, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    assert not Path(f"{pid_file}.finished").exists()
