"""``dump``, ``logs``, ``tag`` and ``grange runs`` as a user types them.

The flows are copied into a temporary project folder and run from there, so
every command finds the store the way a user's does: ``.grange/`` beside the
flow files, no environment variable.
"""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from flow_runs import CLIENT_FLOWS, clean_env, python

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"


@dataclass(frozen=True)
class Project:
    folder: Path

    def flow(self, name: str, *args: str, user: str = "ada") -> subprocess.CompletedProcess[str]:
        env = clean_env(GRANGE_USER=user)
        return python(self.folder / name, *args, cwd=self.folder, env=env, check=False)

    def grange(
        self, *args: str, user: str = "ada", cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = clean_env(GRANGE_USER=user)
        return python("-c", GRANGE, *args, cwd=cwd or self.folder, env=env, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("project")
    for name in ("params_flow.py", "fail_flow.py", "foreach_flow.py"):
        shutil.copy(CLIENT_FLOWS / name, folder / name)
    proj = Project(folder)
    runs = [
        proj.flow("params_flow.py", "run", "--tag", "nightly"),  # ClientParamsFlow/1
        proj.flow("foreach_flow.py", "run"),  # ClientForeachFlow/1
        proj.flow("params_flow.py", "run", "--tag", "bobs", user="bob"),  # ClientParamsFlow/2
    ]
    for result in runs:
        assert result.returncode == 0, result.stdout + result.stderr
    env = clean_env(GRANGE_USER="ada", CLIENT_FAIL="1")
    failed = python(folder / "fail_flow.py", "run", cwd=folder, env=env, check=False)
    assert failed.returncode == 1, failed.stdout + failed.stderr  # ClientFailFlow/1
    return proj


def sizeless(text: str) -> list[str]:
    """The lines of ``text`` with stored sizes (which depend on pickle) replaced by N."""
    return [re.sub(r"\[size: \d+ B,", "[size: N B,", line) for line in text.splitlines()]


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit status 2, the fragments in the message, and no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


# -- dump ---------------------------------------------------------------------------------


def test_dump_prints_a_steps_artifacts(project: Project) -> None:
    result = project.flow("params_flow.py", "dump", "1/start")
    assert result.returncode == 0, result.stderr
    lines = sizeless(result.stdout)
    assert lines[0] == "ClientParamsFlow/1/start/1:"
    assert "  x [size: N B, type: int] = 1" in lines
    assert "  alpha [size: N B, type: float] = 0.5" in lines
    assert any(
        ln.startswith("  big [") and "not shown: over --max-value-size" in ln for ln in lines
    )
    assert "_hidden" not in result.stdout


def test_dump_options_select_and_size_values(project: Project) -> None:
    private = project.flow("params_flow.py", "dump", "1/start/1", "--private")
    assert "  _hidden [size: " in private.stdout and "= 'secret'" in private.stdout
    names = project.flow("params_flow.py", "dump", "1/start", "--max-value-size", "0")
    assert "  x [size: N B, type: int]" in sizeless(names.stdout)
    assert " = " not in names.stdout
    only = project.flow("params_flow.py", "dump", "1/start", "--include", "x,label")
    assert sizeless(only.stdout)[1:] == [
        "  label [size: N B, type: str] = 'plain'",
        "  x [size: N B, type: int] = 1",
    ]
    bigger = project.flow("params_flow.py", "dump", "1/start", "--max-value-size", "100000")
    assert "= [0, 1, 2, 3," in bigger.stdout


def test_dump_to_a_file_pickles_every_value(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "artifacts.pkl"
    result = project.flow(
        "params_flow.py", "dump", "1/start", "--include", "big", "--file", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert pickle.loads(out.read_bytes()) == {
        "ClientParamsFlow/1/start/1": {"big": list(range(5000))}
    }


def test_dump_of_a_foreach_step_shows_every_task(project: Project) -> None:
    result = project.flow("foreach_flow.py", "dump", "1/work", "--include", "out")
    assert result.returncode == 0, result.stderr
    assert sizeless(result.stdout) == [
        "ClientForeachFlow/1/work/2:",
        "  out [size: N B, type: str] = 'A'",
        "ClientForeachFlow/1/work/3:",
        "  out [size: N B, type: str] = 'B'",
        "ClientForeachFlow/1/work/4:",
        "  out [size: N B, type: str] = 'C'",
    ]


def test_dump_of_a_failed_task_shows_what_it_left(project: Project) -> None:
    """As in Metaflow, a failed attempt keeps the artifacts it had when it failed."""
    result = project.flow("fail_flow.py", "dump", "1/explode")
    assert "the task failed with ValueError: exploded on purpose" in result.stdout
    assert "before [size: " in result.stdout and "'saved before the failure'" in result.stdout
    assert "after [" not in result.stdout  # set after the failure point: never was


def test_dump_errors_are_short_and_helpful(project: Project) -> None:
    assert_user_error(project.flow("params_flow.py", "dump", "start"), "RUN/STEP")
    assert_user_error(project.flow("params_flow.py", "dump", "99/start"), "does not exist")
    assert_user_error(project.flow("params_flow.py", "dump", "1/strat"), "did you mean 'start'")
    assert_user_error(
        project.flow("params_flow.py", "dump", "1/start", "--include", "bigg"),
        "did you mean 'big'",
    )


def test_dump_to_a_file_that_cannot_be_written_names_it(project: Project, tmp_path: Path) -> None:
    """Once an internal FileNotFoundError / OSError: Input/output error."""
    missing = tmp_path / "no-such-dir" / "out.pkl"
    assert_user_error(
        project.flow("params_flow.py", "dump", "1/start", "--file", str(missing)),
        f"dump --file {missing}: cannot write it (No such file or directory)",
        f"create the directory {missing.parent} first",
    )
    assert not missing.parent.exists()
    if Path("/proc/version").exists():  # Linux: opens for writing, fails on write
        assert_user_error(
            project.flow("params_flow.py", "dump", "1/start", "--file", "/proc/version"),
            "dump --file /proc/version: cannot write it",
            "name a regular file",
        )


# -- logs ----------------------------------------------------------------------------------


def test_logs_print_what_a_task_printed(project: Project) -> None:
    out = project.flow("params_flow.py", "logs", "1/start/1", "--stdout")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello from start alpha=0.5\n"
    assert "==>" not in out.stderr  # one log: no heading
    err = project.flow("params_flow.py", "logs", "1/start", "--stderr")
    assert err.stdout == "a warning from start\n"
    both = project.flow("params_flow.py", "logs", "1/start")
    assert both.stdout == "hello from start alpha=0.5\na warning from start\n"
    assert "==> ClientParamsFlow/1/start/1 stdout (attempt 0) <==" in both.stderr


def test_logs_of_a_step_show_every_task(project: Project) -> None:
    result = project.flow("foreach_flow.py", "logs", "1/work", "--stdout")
    assert result.stdout == "working on a\nworking on b\nworking on c\n"
    assert result.stderr.count("==> ClientForeachFlow/1/work/") == 3
    quiet = project.flow("foreach_flow.py", "--quiet", "logs", "1/work", "--stdout")
    assert quiet.stderr == ""


def test_logs_of_a_failed_task_and_bad_attempts(project: Project) -> None:
    result = project.flow("fail_flow.py", "logs", "1/explode", "--stderr")
    assert "ValueError: exploded on purpose" in result.stdout
    assert_user_error(
        project.flow("fail_flow.py", "logs", "1/explode/2", "--attempt", "3"), "no attempt 3"
    )
    assert_user_error(project.flow("fail_flow.py", "logs", "1/boom"), "known steps: explode, start")


# -- tag ------------------------------------------------------------------------------------


def test_tag_add_remove_replace_and_list(project: Project) -> None:
    added = project.flow("foreach_flow.py", "tag", "add", "good", "shiny")
    assert added.returncode == 0, added.stderr
    assert "user tags:   good, shiny" in added.stdout
    assert "(the latest; choose another with --run-id)" in added.stderr
    removed = project.flow("foreach_flow.py", "tag", "remove", "shiny", "--run-id", "1")
    assert "user tags:   good\n" in removed.stdout
    replaced = project.flow(
        "foreach_flow.py", "tag", "replace", "--remove", "good", "--add", "best"
    )
    assert "user tags:   best\n" in replaced.stdout
    listed = project.flow("foreach_flow.py", "tag", "list")
    assert listed.stdout.splitlines()[0] == "ClientForeachFlow/1"
    assert "user tags:   best" in listed.stdout
    assert "runtime:local" in listed.stdout and "user:ada" in listed.stdout


def test_tag_errors(project: Project) -> None:
    assert_user_error(
        project.flow("foreach_flow.py", "tag", "remove", "user:ada"), "cannot remove system tags"
    )
    assert_user_error(
        project.flow("foreach_flow.py", "tag", "add", "x", "--run-id", "7"), "does not exist"
    )
    assert_user_error(project.flow("foreach_flow.py", "tag", "replace"), "nothing to replace")
    foreign = project.flow("params_flow.py", "tag", "list", "--run-id", "2")  # bob's run
    assert_user_error(foreign, "not in namespace 'user:ada'", "--namespace user:bob tag")
    as_bob = project.flow(
        "params_flow.py", "--namespace", "user:bob", "tag", "list", "--run-id", "2"
    )
    assert as_bob.returncode == 0 and "user tags:   bobs" in as_bob.stdout


# -- grange runs --------------------------------------------------------------------------------


def test_grange_runs_lists_your_recent_runs(project: Project) -> None:
    result = project.grange("runs")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["FLOW", "RUN", "STATUS", "STARTED", "DURATION", "TAGS"]
    rows = [line.split()[:3] for line in lines[1:]]
    assert rows == [  # newest first; bob's run is not in user:ada
        ["ClientFailFlow", "1", "failed"],
        ["ClientForeachFlow", "1", "succeeded"],
        ["ClientParamsFlow", "1", "succeeded"],
    ]
    assert lines[3].endswith("nightly")


def test_grange_runs_of_one_flow_limit_and_all(project: Project) -> None:
    one = project.grange("runs", "ClientParamsFlow")
    assert [line.split()[0] for line in one.stdout.splitlines()] == ["RUN", "1"]
    every = project.grange("runs", "ClientParamsFlow", "--all")
    lines = every.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN", "STATUS", "USER"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["2", "succeeded", "bob"],
        ["1", "succeeded", "ada"],
    ]
    limited = project.grange("runs", "--all", "--limit", "1")
    assert len(limited.stdout.splitlines()) == 2


def test_grange_runs_errors_and_empty_stores(project: Project, tmp_path: Path) -> None:
    assert_user_error(project.grange("runs", "ClientParamFlow"), "did you mean 'ClientParamsFlow'")
    assert_user_error(project.grange("runs", "ClientParamsFlow", user="carol"), "--all")
    empty = project.grange("runs", cwd=tmp_path)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "No runs found" in empty.stderr
    assert not (tmp_path / ".grange").exists()
