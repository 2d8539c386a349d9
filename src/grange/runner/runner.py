"""``Runner``: run a flow from Python (a notebook, a script, a test), as Metaflow's.

It drives the flow's own command line in a subprocess (``python flow.py
[top-level options] run [options]``), so a run started from Python is the one
the command line starts::

    from grange import Runner

    with Runner("train.py", datastore_root="/data/.grange") as runner:
        result = runner.run(alpha=0.3)       # blocks; an ExecutingRun
        result.status                       # "successful" or "failed"
        result.run["end"].task.data.score   # the client's Run

    async with Runner("train.py") as runner:
        executing = await runner.async_run(alpha=0.3)   # once the run has started
        async for _, line in executing.stream_log("stdout"):
            print(line)
        await executing.wait()

The flow's own errors (a step that raises, a file that does not parse) are a
failed run with the command's output in ``.stderr``, never an exception; a bad
argument to the runner itself is a :class:`~grange.exceptions.RunnerError`.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from grange.exceptions import RunnerError
from grange.runner import cliargs
from grange.runner.process import FlowProcess

# The flow command line's options, by keyword (a unit test checks them against it).
TOP_LEVEL_OPTIONS = frozenset(
    {
        "debug", "quiet", "datastore", "datastore_root", "metadata", "with_", "decospecs",
        "namespace", "package_suffixes", "branch", "production", "trigger", "trigger_event",
        "trigger_payload", "environment", "config", "config_value",
    }
)  # fmt: skip
_BOTH = frozenset(
    {"tags", "max_workers", "max_num_splits", "with_", "decospecs", "namespace", "no_fork", "ui",
     "branch", "production"}
)  # fmt: skip
RUN_OPTIONS = _BOTH | {"trigger", "trigger_event", "trigger_payload"}
RESUME_OPTIONS = _BOTH | {"origin_run_id", "force", "step_to_rerun", "step"}
SPIN_OPTIONS = frozenset(
    {"run_id", "artifacts_module", "skip_decorators", "persist", "max_log_size", "with_",
     "decospecs"}
)  # fmt: skip
_STORE_FLAGS = ("datastore", "datastore_root", "metadata")


class ExecutingRun:
    """A run started by :class:`Runner`: its process, its output and the client's ``Run``.

    ``status`` is ``"running"``, ``"successful"``, ``"failed"`` (an error in the
    flow, or killed) or ``"timeout"`` (ended by ``wait(timeout=...)``).
    """

    def __init__(self, runner: Runner, process: FlowProcess, run_id_file: Path) -> None:
        self.runner = runner
        self.command_obj = process
        self._run_id_file = run_id_file
        self._run_id: str | None = None
        self._run: Any = None

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.runner.cleanup()

    @property
    def run_id(self) -> str | None:
        """The run's id, once the run has started (None if it never did)."""
        if self._run_id is None:
            try:
                text = self._run_id_file.read_text().strip()
            except OSError:
                text = ""
            self._run_id = text or None
        return self._run_id

    @property
    def run(self) -> Any:
        """The client's ``Run``; None while it has not started, or when the flow could
        not start at all (a missing file, a syntax error: see ``stderr``)."""
        if self._run is None and self.run_id is not None:
            from grange.client import Run
            from grange.exceptions import ObjectNotFound

            try:
                self._run = Run(
                    f"{self.runner.flow_name}/{self.run_id}",
                    _namespace_check=False,
                    _stores=self.runner.stores,
                )
            except ObjectNotFound:
                return None
        return self._run

    @property
    def returncode(self) -> int | None:
        """The command's exit status; None while it runs (negative: killed by a signal)."""
        return self.command_obj.returncode

    @property
    def status(self) -> str:
        if self.command_obj.timed_out:
            return "timeout"
        code = self.returncode
        if code is None:
            return "running"
        return "successful" if code == 0 else "failed"

    @property
    def stdout(self) -> str:
        """What the command printed on stdout so far (all of it once it has ended)."""
        return self.command_obj.read("stdout")

    @property
    def stderr(self) -> str:
        """What the command printed on stderr so far (the error of a failed run)."""
        return self.command_obj.read("stderr")

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> ExecutingRun:
        """Wait for the end; after ``timeout`` seconds the run is killed (status
        ``"timeout"``). ``stream="stdout"`` or ``"stderr"`` prints it meanwhile."""
        await self.command_obj.wait(timeout, stream)
        return self

    def stream_log(
        self, stream: str, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """``async for position, line in executing.stream_log("stdout")``: the lines as
        they are written; ``position`` (a previous one) continues where that line ended."""
        return self.command_obj.stream_log(stream, position)

    def kill(self) -> None:
        """Stop the run and every task process it started (status ``"failed"``)."""
        self.command_obj.kill()

    def __repr__(self) -> str:
        return f"ExecutingRun({self.runner.flow_name}/{self.run_id or '?'}, {self.status})"


class ExecutingTask(ExecutingRun):
    """A step re-run by :meth:`Runner.spin`: as :class:`ExecutingRun`, with ``.task``,
    the spun task in the spin store (``run_id`` is the spin's, ``spin-N``; ``.run``
    the spin run). Both are None when the step could not be spun, or with
    ``persist=False`` (nothing is kept)."""

    @property
    def run(self) -> Any:
        if self._run is None and self.run_id is not None:
            from grange.client import Run
            from grange.client.spin import spin_stores
            from grange.exceptions import ObjectNotFound

            stores = self.runner.stores
            try:
                self._run = Run(
                    f"{self.runner.flow_name}/{self.run_id}",
                    _namespace_check=False,
                    _stores=spin_stores(stores.root, stores.s3),
                )
            except ObjectNotFound:
                return None
        return self._run

    @property
    def task(self) -> Any:
        """The client's ``Task`` of the spun step (the spin run's only step)."""
        run = self.run
        if run is None:
            return None
        for step in run:
            return step.task
        return None

    def __repr__(self) -> str:
        task = self.task
        return f"ExecutingTask({task.pathspec if task is not None else '?'}, {self.status})"


class Runner:
    """Run ``flow_file`` with ``.run(**parameters)``, ``.resume(...)``, or their ``async_``
    forms. ``show_output`` echoes the output of blocking runs; ``profile``, ``env``
    (extra environment variables) and ``cwd`` apply to every command; other keyword
    arguments are top-level options (``datastore_root=...``, ``branch="x"``,
    ``with_=["retry"]``). ``file_read_timeout``: how long ``async_run`` waits for
    the run to start before it returns anyway.
    """

    def __init__(
        self,
        flow_file: str | os.PathLike[str],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        file_read_timeout: int = 3600,
        **top_level_options: Any,
    ) -> None:
        self.flow_file = os.path.abspath(os.fspath(flow_file))
        self.show_output = show_output
        self.profile = profile
        self.cwd = os.fspath(cwd) if cwd is not None else os.getcwd()
        self.env = {**os.environ, **{str(k): str(v) for k, v in dict(env or {}).items()}}
        self.file_read_timeout = file_read_timeout
        _check_names(top_level_options, TOP_LEVEL_OPTIONS, "top-level option", {})
        _check_values(top_level_options, "top-level option")
        self.top_level_options = dict(top_level_options)
        self._top = ([f"--profile={profile}"] if profile else []) + cliargs.options(
            top_level_options
        )
        self._flow: tuple[str | None, dict[str, Any] | None] | None = None
        self._import_error = ""
        self._stores: Any = None
        self._folder: Path | None = None
        self._started: list[ExecutingRun] = []

    # -- context managers -------------------------------------------------------------

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cleanup()

    # -- the flow ---------------------------------------------------------------------

    def _read_flow(self) -> tuple[str | None, dict[str, Any] | None]:
        """The flow's name and parameters, read once by importing the file with the
        run's environment and working directory in place (restored after); a file that
        cannot be imported here is left to the command line to report (parameters
        None, the reason kept in ``_import_error``)."""
        if self._flow is None:
            saved_env, saved_cwd = dict(os.environ), os.getcwd()
            try:
                os.environ.clear()
                os.environ.update(self.env)
                os.chdir(self.cwd)
                loaded = cliargs.load_flow(self.flow_file, RunnerError)
            except (RunnerError, OSError) as err:
                loaded = None
                self._import_error = str(err).splitlines()[0]
            finally:
                os.environ.clear()
                os.environ.update(saved_env)
                os.chdir(saved_cwd)
            if loaded is not None:
                self._flow = (loaded[0], loaded[1])
            else:
                self._import_error = self._import_error or "no FlowSpec class in the file"
                self._flow = (_flow_name_in(self.flow_file), None)
        return self._flow

    @property
    def flow_name(self) -> str | None:
        return self._read_flow()[0]

    @property
    def stores(self) -> Any:
        """The stores the flow's command line writes to (its profile, environment,
        working directory and top-level options), where the client reads the run."""
        if self._stores is None:
            from grange.client.config import stores_for

            flags = {k: _text(self.top_level_options.get(k)) for k in _STORE_FLAGS}
            self._stores = stores_for(self.profile, self.env, self.cwd, flags)
        return self._stores

    # -- commands -----------------------------------------------------------------------

    def _start(self, verb: str, kwargs: dict[str, Any]) -> ExecutingRun:
        _, parameters = self._read_flow()
        known = {"run": RUN_OPTIONS, "resume": RESUME_OPTIONS, "spin": SPIN_OPTIONS}[verb]
        if "run_id_file" in kwargs:
            raise RunnerError(
                "run_id_file is the Runner's own: it learns the run id with it",
                fix="read the id from the result: executing.run_id or executing.run.id",
            )
        words: list[str] = []
        if verb == "spin":
            words.append(str(kwargs.pop("pathspec")))
            parameters = {}  # spin takes no parameters: unknown names are refused
        if verb == "resume":
            if kwargs.get("step_to_rerun") is not None and kwargs.get("step") is not None:
                raise RunnerError(
                    "resume was given both step_to_rerun and step",
                    fix="name the step to rerun once: resume(step_to_rerun='train')",
                )
            step = kwargs.pop("step_to_rerun", None)
            step = kwargs.pop("step", None) if step is None else kwargs.pop("step", step)
            if step is not None:
                words.append(str(step))
        _check_names(kwargs, known, f"{verb} option", parameters if verb == "run" else {})
        _check_values(kwargs, "parameter")
        if parameters is None:
            self._refuse_typed(kwargs, known)
        words += cliargs.options(kwargs, parameters or {})
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="grange-runner-"))
        folder = Path(tempfile.mkdtemp(dir=self._folder, prefix=f"{verb}-"))
        run_id_file = folder / "run-id"
        argv = [
            sys.executable, self.flow_file, *self._top, verb, *words,
            "--run-id-file", str(run_id_file),
        ]  # fmt: skip
        process = FlowProcess(argv, env=self.env, cwd=self.cwd, folder=folder)
        kind = ExecutingTask if verb == "spin" else ExecutingRun
        executing = kind(self, process, run_id_file)
        self._started.append(executing)
        return executing

    def _refuse_typed(self, kwargs: Mapping[str, Any], known: frozenset[str]) -> None:
        """With the flow unreadable here, a parameter's command-line words are known
        only when they do not depend on its type: a str, number or path is passed as
        text for the command line to check. A bool (a flag, or a value?) or a list or
        dict (JSON, or repeated?) is refused rather than guessed."""
        for name, value in kwargs.items():
            if name in known or value is None:
                continue
            if isinstance(value, (bool, list, tuple, dict)):
                raise RunnerError(
                    f"cannot pass parameter {name}={value!r}: how it goes on the command "
                    f"line depends on the parameter's type, and the flow could not be read "
                    f"here ({self._import_error})",
                    fix="make the flow file importable with the Runner's env and cwd, "
                    "or pass the value as the text the command line takes (e.g. 'true', "
                    "'[1, 2]')",
                )

    def _blocking(self, verb: str, kwargs: dict[str, Any]) -> ExecutingRun:
        executing = self._start(verb, dict(kwargs))
        try:
            executing.command_obj.wait_blocking(self.show_output)
        except BaseException:  # Ctrl-C in the caller: the run must not go on unseen
            executing.kill()
            raise
        executing.run_id  # noqa: B018 (read now: the file goes with cleanup)
        return executing

    async def _until_started(self, verb: str, kwargs: dict[str, Any]) -> ExecutingRun:
        executing = self._start(verb, dict(kwargs))
        deadline = time.monotonic() + self.file_read_timeout
        while executing.run_id is None and executing.returncode is None:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        return executing

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow and wait for its end; ``kwargs`` are its parameters
        (``alpha=0.3``) and ``run`` options (``tags=["x"]``, ``max_workers=4``)."""
        return self._blocking("run", kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run and wait for its end: ``origin_run_id="12"``,
        ``step_to_rerun="train"`` (or ``step=``), and ``resume``'s options."""
        return self._blocking("resume", kwargs)

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start the run and return once it has started (its ``.run`` is known) or
        its command has ended; ``await executing.wait()`` for the end."""
        return await self._until_started("run", kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """As :meth:`async_run`, for ``resume``."""
        return await self._until_started("resume", kwargs)

    def spin(self, pathspec: str, **kwargs: Any) -> ExecutingTask:
        """Re-run one step of an earlier run with the flow file as it is now, and wait
        (``python flow.py spin PATHSPEC``): ``pathspec`` is ``"train"`` (the latest
        run's), ``"12/train"`` or ``"12/train/4"``; ``kwargs`` are ``spin``'s options
        (``artifacts_module="m.py"``, ``persist=False``, ``skip_decorators=True``)."""
        return self._blocking("spin", {**kwargs, "pathspec": pathspec})  # type: ignore[return-value]

    async def async_spin(self, pathspec: str, **kwargs: Any) -> ExecutingTask:
        """As :meth:`spin`, returning at once; the task is known once the step has run
        (``await executing.wait()``)."""
        executing = self._start("spin", {**kwargs, "pathspec": pathspec})
        assert isinstance(executing, ExecutingTask)
        return executing

    def cleanup(self) -> None:
        """Kill any run still running (and its tasks); remove the temporary files
        (the output of finished runs stays readable in their ``stdout``/``stderr``)."""
        for executing in self._started:
            executing.kill()
            executing.run_id  # noqa: B018 (read before its file is removed)
            executing.command_obj.keep_output()
        self._started.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _check_names(
    kwargs: Mapping[str, Any],
    known: frozenset[str],
    what: str,
    parameters: Mapping[str, Any] | None,
) -> None:
    """Refuse a keyword that is neither an option of the command nor a flow parameter
    (the parameters are unknown, None, when the flow file could not be read here)."""
    if parameters is None:
        return
    for name in kwargs:
        if name in known or cliargs.find_parameter(name, parameters) is not None:
            continue
        names = sorted(known | set(parameters))
        raise RunnerError(
            f"unknown {what} {name!r}",
            fix="use one of: " + ", ".join(names),
        )


def _check_values(kwargs: Mapping[str, Any], what: str) -> None:
    for name, value in kwargs.items():
        if value is None or isinstance(value, (str, int, float, bool, os.PathLike)):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError) as err:
            raise RunnerError(
                f"the value of {what} {name!r} cannot be passed on the command line "
                f"({type(value).__name__}: {err})",
                fix="pass a str, number, bool, or a list/dict of them (sent as JSON)",
            ) from None


def _text(value: Any) -> str | None:
    return (
        None
        if value is None
        else os.fspath(value)
        if isinstance(value, os.PathLike)
        else str(value)
    )


def _flow_name_in(flow_file: str) -> str | None:
    """The last class of the file that derives from ``FlowSpec``, read without running it."""
    try:
        tree = ast.parse(Path(flow_file).read_text(), flow_file)
    except (OSError, SyntaxError, ValueError):
        return None
    names = [
        node.name for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(getattr(b, "id", getattr(b, "attr", None)) == "FlowSpec" for b in node.bases)
    ]  # fmt: skip
    return names[-1] if names else None
