"""The fork server, driven directly: failures of fork() and of the server itself."""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from grange.runtime import zygote
from grange.runtime.launcher import Event, Exited, Launcher, Notice, NotStarted, Worker
from grange.task.spec import TaskSpec

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _spec(task_id: str) -> TaskSpec:
    return TaskSpec(flow="F", run_id="1", step="work", task_id=task_id)


def _entry(spec: TaskSpec) -> int:
    if spec.task_id == "sleep":
        time.sleep(30)
    if spec.task_id.startswith("/"):  # start a process, say its pid, wait to be killed
        import subprocess

        child = subprocess.Popen(["sleep", "1000"])
        with open(spec.task_id, "w") as fh:
            fh.write(str(child.pid))
        time.sleep(30)
    return int(spec.task_id) if spec.task_id.isdigit() else 0


def _collect(launcher: Launcher, until: Callable[[list[Event]], bool]) -> list[Event]:
    got: list[Event] = []
    deadline = time.monotonic() + 30
    while not until(got):
        assert time.monotonic() < deadline, got
        for event in launcher.events():
            if isinstance(event, Worker):
                os.close(event.stdout)
                os.close(event.stderr)
            got.append(event)
        time.sleep(0.01)
    return got


def test_a_failed_fork_fails_that_task_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing_second_fork() -> Callable[[], int]:
        def fork() -> int:
            calls.append(1)
            if len(calls) == 2:
                raise OSError(errno.EPERM, "no forking today")
            return os.fork()

        return fork

    monkeypatch.setattr(zygote, "task_fork", failing_second_fork)
    launcher = zygote.ForkLauncher(_entry)
    try:
        for task_id in ("3", "4", "5"):
            launcher.launch(_spec(task_id))
        done = _collect(
            launcher, lambda got: sum(isinstance(e, (Exited, NotStarted)) for e in got) == 3
        )
    finally:
        launcher.close()
    not_started = [e for e in done if isinstance(e, NotStarted)]
    assert [e.spec.task_id for e in not_started] == ["4"]
    assert "could not start the task's process" in not_started[0].reason
    assert sorted(e.code for e in done if isinstance(e, Exited)) == [3, 5]


@pytest.fixture(autouse=True)
def no_s3_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Earlier tests in this process may have used S3 (which forbids restarting a fork
    server from it); these tasks never do."""
    monkeypatch.setattr(zygote.s3_connect, "started_here", lambda: False)


def test_a_dead_fork_server_is_restarted() -> None:
    """A new fork server takes over: the tasks it was asked for, and later ones, are forked."""
    launcher = zygote.ForkLauncher(_entry, fallback=lambda: pytest.fail("no fallback"))
    try:
        first = launcher.zygote_pid
        launcher.launch(_spec("sleep"))
        started = _collect(launcher, lambda got: any(isinstance(e, Worker) for e in got))
        worker = next(e for e in started if isinstance(e, Worker))
        os.kill(first, signal.SIGKILL)
        launcher.launch(_spec("7"))  # asked for while the dead server is not yet noticed
        after = _collect(
            launcher, lambda got: any(isinstance(e, Exited) and e.code == 7 for e in got)
        )
        launcher.launch(_spec("5"))
        later = _collect(launcher, lambda got: any(isinstance(e, Exited) for e in got))
        assert launcher.zygote_pid != first
    finally:
        launcher.close()
    notice = next(e for e in after if isinstance(e, Notice))
    assert "stopped unexpectedly (killed by SIGKILL)" in notice.text
    assert "A new one was started." in notice.text
    assert Exited(worker.pid, -signal.SIGKILL, lost=True) in after
    assert [e.code for e in later if isinstance(e, Exited)] == [5]


def test_what_tasks_started_ends_when_their_fork_server_is_killed(tmp_path: Path) -> None:
    launcher = zygote.ForkLauncher(_entry, fallback=lambda: pytest.fail("no fallback"))
    marker = tmp_path / "child"
    try:
        launcher.launch(_spec(str(marker)))
        deadline = time.monotonic() + 30
        while not marker.exists() or not marker.read_text():
            assert time.monotonic() < deadline
            launcher.events()
            time.sleep(0.01)
        child = int(marker.read_text())
        os.kill(launcher.zygote_pid, signal.SIGKILL)
        _collect(launcher, lambda got: any(isinstance(e, Notice) for e in got))
        assert not Path(f"/proc/{child}").exists()  # killed and reaped by the runtime
    finally:
        launcher.close()


def test_a_fork_server_that_keeps_dying_hands_over_to_the_fallback() -> None:
    fallback, make = _fallback()

    launcher = zygote.ForkLauncher(_entry, fallback=make, restarts=1)
    try:
        for _ in range(2):
            os.kill(launcher.zygote_pid, signal.SIGKILL)
            got = _collect(launcher, lambda got: any(isinstance(e, Notice) for e in got))
        launcher.launch(_spec("6"))
    finally:
        launcher.close()
    notice = next(e for e in got if isinstance(e, Notice))
    assert "restarted 1 time(s) already" in notice.text
    assert "fresh interpreters" in notice.text
    assert [s.task_id for s in fallback[0].launched] == ["6"]  # type: ignore[attr-defined]


def test_a_process_that_used_s3_hands_a_dead_fork_server_over_to_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3's native threads do not survive a fork: a new fork server forked from a runtime
    that used S3 would hang its tasks, so fresh interpreters take over at once."""
    fallback, make = _fallback()

    launcher = zygote.ForkLauncher(_entry, fallback=make)
    monkeypatch.setattr(zygote.s3_connect, "started_here", lambda: True)
    try:
        os.kill(launcher.zygote_pid, signal.SIGKILL)
        got = _collect(launcher, lambda got: any(isinstance(e, Notice) for e in got))
        launcher.launch(_spec("6"))
    finally:
        launcher.close()
    notice = next(e for e in got if isinstance(e, Notice))
    assert "fresh interpreters" in notice.text
    assert [s.task_id for s in fallback[0].launched] == ["6"]  # type: ignore[attr-defined]


def _fallback() -> tuple[list[Launcher], Callable[[], Launcher]]:
    """A fallback launcher factory, and the list holding the one it made."""
    made: list[Launcher] = []

    def make() -> Launcher:
        made.append(_Recording())
        return made[0]

    return made, make


class _Recording(Launcher):
    def __init__(self) -> None:
        self.launched: list[TaskSpec] = []

    def launch(self, spec: TaskSpec) -> None:
        self.launched.append(spec)

    def events(self) -> list[Event]:
        return []


def test_a_dead_fork_server_hands_over_to_the_fallback() -> None:
    fallback, make = _fallback()

    launcher = zygote.ForkLauncher(_entry, fallback=make, restarts=0)
    try:
        launcher.launch(_spec("sleep"))
        started = _collect(launcher, lambda got: any(isinstance(e, Worker) for e in got))
        worker = next(e for e in started if isinstance(e, Worker))
        os.kill(launcher.zygote_pid, signal.SIGKILL)
        after = _collect(launcher, lambda got: any(isinstance(e, Notice) for e in got))
        launcher.launch(_spec("6"))
    finally:
        launcher.close()
    notice = next(e for e in after if isinstance(e, Notice))
    assert "stopped unexpectedly (killed by SIGKILL)" in notice.text
    assert Exited(worker.pid, -signal.SIGKILL, lost=True) in after
    assert launcher.wakeup_fd() is None  # the fallback's: fresh interpreters have none
    assert "fresh interpreters" in notice.text
    assert [s.task_id for s in fallback[0].launched] == ["6"]  # type: ignore[attr-defined]


def test_the_live_view_pauses_its_thread_for_a_restart() -> None:
    """A new fork server is forked from the runtime: no other thread may run then."""
    import io
    import threading

    from grange.runtime.progress import LiveOutput

    before = threading.active_count()
    output = LiveOutput(["start"], stream=io.StringIO())
    try:
        assert threading.active_count() == before + 1  # rich's refresh thread
        with output.paused():
            assert threading.active_count() == before
        assert threading.active_count() == before + 1
    finally:
        output.close()
