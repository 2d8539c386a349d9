"""``NBRunner``: run a flow defined in a notebook cell, as Metaflow's::

    class TrainFlow(FlowSpec):
        ...

    run = NBRunner(TrainFlow).nbrun(alpha=0.3)   # on the cell's last line

The cell's source (from IPython's input history: the cell being run), cut after
the flow class, is written to a temporary flow file, with the import statements
of the notebook's earlier cells before it and ``if __name__ == "__main__":``
after it; a :class:`~grange.runner.runner.Runner` runs that file.
"""

from __future__ import annotations

import ast
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from grange.exceptions import RunnerError
from grange.runner.runner import ExecutingRun, Runner


def _shell() -> Any:
    """The running IPython shell, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def current_cell(shell: Any) -> tuple[str, list[str]]:
    """The cell being run and the cells run before it, from IPython's transformed input
    history (``In``: magics and ``!`` commands already turned into Python, so that a
    cell using them still parses; the raw history would not)."""
    manager = getattr(shell, "history_manager", None)
    history = list(getattr(manager, "input_hist_parsed", None) or [])
    if not history:
        history = list((getattr(shell, "user_ns", None) or {}).get("In", []) or [])
    if not history or not history[-1].strip():
        raise RunnerError(
            "found no notebook cell being run",
            fix="call NBRunner(FlowClass) in the notebook cell that defines the flow",
        )
    return history[-1], history[:-1]


def flow_file_text(cell: str, flow_name: str, earlier: Sequence[str] = ()) -> str:
    """A flow file: the imports of the ``earlier`` cells, ``cell`` up to the end of class
    ``flow_name``, and the ``__main__`` line that starts its command line."""
    try:
        tree = ast.parse(cell)
    except SyntaxError as err:
        raise RunnerError(f"the notebook cell does not parse: {err}") from None
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == flow_name]
    if not classes:
        raise RunnerError(
            f"class {flow_name} is not defined in the notebook cell being run",
            fix=f"call NBRunner({flow_name}) in the cell that defines {flow_name}",
        )
    future: list[str] = []
    imports: list[str] = []
    for source in earlier:
        for line in _import_lines(source):
            target = future if line.startswith("from __future__") else imports
            if line not in target:
                target.append(line)
    lines = cell.splitlines()
    body = lines[: classes[-1].end_lineno]
    head = [line for line in body if line.startswith("from __future__")]
    body = [line for line in body if not line.startswith("from __future__")]
    return "\n".join(
        [*dict.fromkeys(future + head), *imports, *body, "", 'if __name__ == "__main__":',
         f"    {flow_name}()", ""]
    )  # fmt: skip


def _import_lines(source: str) -> list[str]:
    """The top-level import statements of a cell (a cell that does not parse: none)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [
        ast.get_source_segment(source, node) or ""
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]


class NBRunner:
    """Run ``flow`` (a class defined in the notebook cell being run): ``.nbrun(**params)``
    returns the client's ``Run``. ``base_dir`` (default: the working directory) holds
    the temporary flow file and is where the run starts; other keyword arguments are
    as :class:`Runner`'s (top-level options)."""

    def __init__(
        self,
        flow: type,
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        if not isinstance(flow, type):
            raise RunnerError(
                f"NBRunner takes the flow class, not {flow!r}", fix="pass NBRunner(MyFlow)"
            )
        shell = _shell()
        if shell is None:
            raise RunnerError(
                "NBRunner runs a flow defined in a notebook cell, and no IPython shell is running",
                fix="in a script, use Runner('flow.py') instead",
            )
        cell, earlier = current_cell(shell)
        self.flow = flow
        self.base_dir = base_dir if base_dir is not None else os.getcwd()
        text = flow_file_text(cell, flow.__name__, earlier)
        fd, self.flow_file = tempfile.mkstemp(prefix=flow.__name__, suffix=".py", dir=self.base_dir)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # Jupyter's parent-process variable must not reach the flow's processes.
        env = {**dict(env or {}), "JPY_PARENT_PID": ""}
        self.runner = Runner(
            self.flow_file,
            show_output=show_output,
            profile=profile,
            env=env,
            cwd=self.base_dir,
            file_read_timeout=file_read_timeout,
            **kwargs,
        )

    def nbrun(self, **kwargs: Any) -> Any:
        """Run the flow, wait for it, clean up, and return the client's ``Run``."""
        return self._finished(self.runner.run(**kwargs))

    def nbresume(self, **kwargs: Any) -> Any:
        """Resume a run, wait for it, clean up, and return the client's ``Run``."""
        return self._finished(self.runner.resume(**kwargs))

    def _finished(self, executing: ExecutingRun) -> Any:
        run = executing.run
        self.cleanup()
        if run is None:
            raise RunnerError(
                f"{self.flow.__name__} did not start:\n{executing.stderr.strip()}",
                fix="fix the error above and run the cell again",
            )
        return run

    def run(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.run(**kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.resume(**kwargs)

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        return await self.runner.async_run(**kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        return await self.runner.async_resume(**kwargs)

    def cleanup(self) -> None:
        """Remove the temporary flow file and the runner's files (call it after
        ``async_run``; ``nbrun`` and ``nbresume`` do)."""
        if os.path.exists(self.flow_file):
            os.remove(self.flow_file)
        self.runner.cleanup()
