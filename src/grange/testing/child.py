"""How ``run_step`` runs its task: in a forked child (the default), or in the test's
own process, a Ctrl-C stopping the test run either way (see :mod:`grange.testing.step`)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Iterator
from typing import Any

from grange.decorators.project import ProjectInfo
from grange.exceptions import GrangeError, HarnessError
from grange.flowspec import FlowSpec
from grange.task.execute import run_task
from grange.task.spec import TaskSpec
from grange.task.stores import TaskStores

#: As ``run --max-num-splits``' default: a foreach the step starts may have this many items.
MAX_NUM_SPLITS = 100_000


def run_here(
    flow_cls: type[FlowSpec], spec: TaskSpec, stores: TaskStores, project: ProjectInfo | None
) -> int:
    """``run_task`` in this process; KeyboardInterrupt on a Ctrl-C during the step."""
    if _run(flow_cls, spec, stores, project):  # Ctrl-C: the test run stops, the step did not fail
        raise KeyboardInterrupt
    return 0


def _run(
    flow_cls: type[FlowSpec], spec: TaskSpec, stores: TaskStores, project: ProjectInfo | None
) -> bool:
    """``run_task`` as run_step runs it; True when a Ctrl-C came during the step."""
    with _Interrupts() as interrupts, _no_client_objects():
        run_task(flow_cls, spec, stores, max_num_splits=MAX_NUM_SPLITS, project=project)
    return interrupts.hit


@contextlib.contextmanager
def _no_client_objects() -> Iterator[None]:
    """``current.run`` / ``current.task`` raise, saying why: the step runs in no run
    that the client can read (it would look in the user's own store instead)."""
    from grange.task import context

    def refuse(pathspec: str, kind: str) -> Any:
        raise HarnessError(
            f"current.{kind}: run_step runs the step alone, in no run that the client can "
            "read, so it has no client object",
            fix=f"test what reads current.{kind} with run_flow (a whole run), or give the "
            "step what it reads as inputs",
        )

    real = context._client_object
    context._client_object = refuse
    try:
        yield
    finally:
        context._client_object = real


def run_forked(
    flow_cls: type[FlowSpec],
    spec: TaskSpec,
    stores: TaskStores,
    project: ProjectInfo | None,
    folder: str,
) -> int:
    """``run_task`` in a forked child (its ``waitpid`` status); the parent waits (and ends the child if it is
    itself interrupted). The child leaves through ``os._exit``: no test teardown,
    no ``atexit`` of the test process runs in it. An error of grange's own in the
    child (not the step's: that is in the record) is raised here."""
    from grange.testing.source import die_with_this_process

    die_with_test = die_with_this_process(signal.SIGKILL)
    error_file = os.path.join(folder, "run_step.error")
    interrupted_file = os.path.join(folder, "run_step.interrupted")
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks; the child runs
        # only the task's code and leaves with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover (the child; its effects are what the tests check)
        code = 0
        if die_with_test is not None:  # a test process killed takes its step along
            die_with_test()
        try:
            if _run(flow_cls, spec, stores, project):
                open(interrupted_file, "w").close()
        except BaseException as err:  # grange could not run the task: say why, to the parent
            import traceback

            if isinstance(err, KeyboardInterrupt):
                open(interrupted_file, "w").close()
            else:
                text = err.render() if isinstance(err, GrangeError) else traceback.format_exc()
                with open(error_file, "w") as f:
                    f.write(text)
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if os.path.exists(interrupted_file) or (
        os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT
    ):
        raise KeyboardInterrupt  # the child was interrupted: so is the test
    if os.path.exists(error_file):
        with open(error_file) as f:
            raise HarnessError(f"step '{spec.step}' could not run:\n{f.read()}", step=spec.step)
    return status


def ended(status: int) -> str:
    """How a child process ended, from its ``waitpid`` status (0 for this process)."""
    if not status:
        return "exit status 0"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


class _Interrupts:
    """Notes a Ctrl-C (SIGINT) while the step runs. The task records a
    KeyboardInterrupt the step raises as its failure, as in a run; one from a real
    SIGINT must stop the test run instead. Only in the main thread (elsewhere
    Python delivers no signal)."""

    def __init__(self) -> None:
        self.hit = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        self.hit = True
        raise KeyboardInterrupt

    def __enter__(self) -> _Interrupts:
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
