"""EnvLauncher: which launcher a task goes to, and the variables of an env's process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grange.environments.envlock import EnvLock, PreparedEnv
from grange.runtime.env_launcher import EnvLauncher, env_variables
from grange.runtime.launcher import Event, Exited, Launcher, Worker
from grange.task.spec import TaskSpec


class Recording(Launcher):
    def __init__(self, base: int) -> None:
        self.base = base
        self.launched: list[str] = []
        self.pending: list[Event] = []

    def launch(self, spec: TaskSpec) -> None:
        self.launched.append(spec.step)
        self.pending.append(Worker(spec, self.base + len(self.launched), -1, -1))

    def events(self) -> list[Event]:
        out, self.pending = self.pending, []
        return out


def _env(sha_text: str) -> PreparedEnv:
    lock = EnvLock("pypi", "k", "3.11.7", "p", sha_text, "t")
    return PreparedEnv(lock, Path("/envs/x"), Path("/envs/x/bin/python"), ("/shim",))


def _spec(step: str, **extra: object) -> TaskSpec:
    return TaskSpec(flow="F", run_id="1", step=step, task_id="2", extra=dict(extra))


def test_routing() -> None:
    inner, made = Recording(100), Recording(200)
    launcher = EnvLauncher(inner, flow_file="f.py", top_level_args=[], fork=False)
    launcher._make = lambda prepared: made  # type: ignore[method-assign]
    launcher.use({"train": _env("a"), "score": _env("a")})  # one lock: one launcher
    assert launcher._launchers == {_env("a").lock.sha: made}
    for spec in (_spec("start"), _spec("train"), _spec("score"), _spec("train", catch={})):
        launcher.launch(spec)
    assert made.launched == ["train", "score"]
    assert inner.launched == ["start", "train"]  # a @catch fallback runs no user code
    events = launcher.events()
    assert {e.pid for e in events if isinstance(e, Worker)} == {101, 102, 201, 202}
    assert launcher._owner[201] is made and launcher._owner[101] is inner
    made.pending.append(Exited(201, 0))
    launcher.events()
    assert 201 not in launcher._owner and launcher._owner[202] is made


def test_env_variables_give_the_shim_alone() -> None:
    """The caller's PYTHONPATH would shadow the environment's packages: dropped."""
    env = env_variables(_env("a"), {"PYTHONPATH": "/mine", "VIRTUAL_ENV": "/v", "A": "1"})
    assert env["PYTHONPATH"] == "/shim" == env["GRANGE_ENV_SHIM"]
    assert env["PYTHONNOUSERSITE"] == "1"
    assert "VIRTUAL_ENV" not in env and env["A"] == "1"


def test_forget_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    from grange.runtime.processes import forget_shim

    monkeypatch.setenv("GRANGE_ENV_SHIM", "/shim")
    monkeypatch.setenv("PYTHONPATH", "/shim:/added")
    forget_shim()
    assert os.environ["PYTHONPATH"] == "/added" and "GRANGE_ENV_SHIM" not in os.environ
    monkeypatch.setenv("GRANGE_ENV_SHIM", "/shim")
    monkeypatch.setenv("PYTHONPATH", "/shim")
    forget_shim()
    assert "PYTHONPATH" not in os.environ


def test_startup_allowance_is_per_task() -> None:
    """A plain step's @timeout backstop is not delayed by an env step's fresh
    interpreters; a task forked by an env's fork server has nothing left to import."""
    from grange.runtime.env_launcher import EnvForkLauncher
    from grange.runtime.launcher import SpawnLauncher

    inner, made = Recording(100), Recording(200)
    made.startup_allowance = SpawnLauncher.startup_allowance
    launcher = EnvLauncher(inner, flow_file="f.py", top_level_args=[], fork=False)
    launcher._make = lambda prepared: made  # type: ignore[method-assign]
    launcher.use({"train": _env("a")})
    launcher.launch(_spec("start"))
    launcher.launch(_spec("train"))
    workers = {e.spec.step: e for e in launcher.events() if isinstance(e, Worker)}
    assert launcher.allowance(workers["start"]) == 0.0
    assert launcher.allowance(workers["train"]) == SpawnLauncher.startup_allowance
    assert EnvForkLauncher.startup_allowance == 0.0


def test_a_deferred_environment_is_built_at_the_first_launch() -> None:
    from grange.exceptions import EnvError
    from grange.runtime.launcher import NotStarted

    inner, made = Recording(100), Recording(200)
    launcher = EnvLauncher(inner, flow_file="f.py", top_level_args=[], fork=False)
    launcher._make = lambda prepared: made  # type: ignore[method-assign]
    launcher.deferred["train"] = lambda: _env("a")

    def fails() -> PreparedEnv:
        raise EnvError("cannot build it")

    launcher.deferred["score"] = fails
    launcher.launch(_spec("train"))
    launcher.launch(_spec("score"))
    assert made.launched == ["train"] and inner.launched == []  # never the host's Python
    assert not launcher.flush()  # news to read
    events = launcher.events()
    assert [e.reason for e in events if isinstance(e, NotStarted)] == ["cannot build it"]


def test_import_failure_reads_the_traceback_of_the_flow_file(tmp_path: Path) -> None:
    from grange.runtime.env_launcher import import_failure

    flow = tmp_path / "flow.py"
    flow.write_text("")
    frames = f'Traceback (most recent call last):\n  File "{flow}", line 3, in <module>\n    x\n'
    assert import_failure(frames + "ModuleNotFoundError: No module named 'x'\n", str(flow)) == (
        "flow.py line 3",
        "No module named 'x'",
    )
    assert import_failure(frames + "ValueError: bad\n", str(flow)) == (
        "flow.py line 3",
        "ValueError: bad",
    )
    other = 'Traceback (most recent call last):\n  File "/grange/x.py", line 1\nOSError: no\n'
    assert import_failure(other, str(flow)) is None  # not the flow file's: restarted
    assert import_failure("", str(flow)) is None
