"""Run flows from Python: ``Runner`` (a flow file) and ``NBRunner`` (a notebook cell).

Both drive the flow's command line in a subprocess; :mod:`grange.runner.cliargs`
turns keyword arguments into its options (``Deployer`` uses it too).
"""

from __future__ import annotations

from grange.exceptions import RunnerError
from grange.runner.nbrun import NBRunner
from grange.runner.runner import ExecutingRun, ExecutingTask, Runner

__all__ = ["ExecutingRun", "ExecutingTask", "NBRunner", "Runner", "RunnerError"]
