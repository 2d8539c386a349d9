"""Whether a flow class can be tested (and processes that end with the test): grange reads a flow's steps from its source
file, and ``run_flow``'s processes import the class from it.

A class defined in a notebook cell, in ``python -c`` or on standard input has no
file to read; a class of ``__main__`` (the script being run, or an IPython shell
started from one) has one, but running it again runs the script's main block,
which would call ``run_flow`` again, without end.
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
from collections.abc import Callable

from grange.exceptions import HarnessError

#: Set in the environment of the command ``run_flow`` starts: a ``run_flow`` called
#: there is the flow file calling it again (its main block), never a test.
NESTED_VARIABLE = "GRANGE_TESTING_RUN_FLOW"


def source_file(flow_cls: type) -> str | None:
    """The file on disk the class was defined in, or None (none, or not readable).

    The file its functions were compiled from, when it has any: a class of an IPython
    shell started from a script has that script as its module's file, not its source.
    """
    for value in vars(flow_cls).values():
        code = getattr(value, "__code__", None)
        if code is not None:
            path = code.co_filename
            break
    else:
        try:
            path = inspect.getsourcefile(flow_cls)
        except (OSError, TypeError):
            return None
    return os.path.abspath(path) if path and os.path.isfile(path) else None


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def _in_ipython() -> bool:
    return "IPython" in sys.modules


def check_readable(flow_cls: type, helper: str) -> str:
    """The class's source file; a :class:`HarnessError` saying what to do if it has none."""
    path = source_file(flow_cls)
    if path is not None:
        return path
    name = flow_cls.__name__
    where = "a notebook cell" if _in_notebook() else "python -c, standard input or a shell"
    where = "an IPython cell" if _in_ipython() and not _in_notebook() else where
    fix = f"put {name} in a .py file and import it from there"
    if _in_notebook():
        fix += f" (to run a flow defined in a cell, use grange.NBRunner({name}).nbrun())"
    raise HarnessError(
        f"the source of {name} cannot be read (it was defined in {where}): {helper} "
        "reads a flow's steps from its file",
        fix=fix,
    )


def check_not_main(flow_cls: type, path: str) -> None:
    """Refuse a class of ``__main__``: its file is the script running now."""
    if flow_cls.__module__ != "__main__":
        return
    name = flow_cls.__name__
    raise HarnessError(
        f"{name} is defined in the script being run ({path}, module __main__): the run's "
        "processes would run that script again, and its main block with it",
        file=path,
        fix=f"move {name} into a module of its own and import it in the script, or call "
        "run_flow from a test (pytest imports test files as modules)",
    )


def check_not_nested() -> None:
    """Refuse ``run_flow`` inside a run ``run_flow`` started (the flow file calls it)."""
    if os.environ.get(NESTED_VARIABLE):
        raise HarnessError(
            "run_flow was called inside a run that run_flow started: the flow file calls "
            "run_flow when run as a script, so each run would start another",
            fix='call run_flow from a test, not in the flow file\'s `if __name__ == "__main__":` '
            "block (that block should call the flow class: MyFlow())",
        )


def die_with_this_process(sig: int = signal.SIGTERM) -> Callable[[], object] | None:
    """On Linux, a function for a child process to call first: the kernel sends it
    ``sig`` when this process ends (``PR_SET_PDEATHSIG``, through the runtime's
    :func:`~grange.runtime.processes.die_with_parent`). A test process killed
    (SIGTERM, SIGKILL: a cancelled CI job) then stops what it started, though
    ``run_flow``'s command leads its own session and no signal to the test's group
    reaches it. None elsewhere."""
    from grange.runtime.processes import dies_with_this_process

    return dies_with_this_process(sig)
