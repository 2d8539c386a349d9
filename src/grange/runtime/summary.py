"""The few lines printed when a run ends: status, run id, duration, and on failure
the failed task, its exception and the exact command that resumes the run."""

from __future__ import annotations

import os
import shlex
import signal
from typing import Any

from grange.runtime.loop import LoopResult


def summarize(req: Any, run_id: str, status: str, result: LoopResult, seconds: float) -> str:
    flow = req.flow_cls.__name__
    counts = f"{result.tasks_run} task(s) run" + (
        f", {result.tasks_cloned} reused" if result.tasks_cloned else ""
    )
    if status == "succeeded":
        nothing = (
            ": nothing needed re-running" if result.tasks_cloned and not result.tasks_run else ""
        )
        return f"Run {flow}/{run_id} succeeded in {seconds:.2f}s ({counts}){nothing}."
    lines = [f"Run {flow}/{run_id} FAILED after {seconds:.2f}s ({counts})."]
    if result.interrupted and result.stop_signal == signal.SIGINT:
        lines.append("  Interrupted (Ctrl-C); running tasks were stopped.")
    elif result.interrupted:
        name = _signal_name(result.stop_signal).split("(")[-1].rstrip(")")
        lines.append(f"  Stopped by {name}; running tasks were stopped.")
    elif not result.failures:
        lines.append("  No task failed, but the run stopped before its end step.")
    for failure in result.failures[:5]:
        spec = failure.spec
        record = failure.record
        # What the attempt raised, or what the runtime saw (a timeout it enforced).
        exception = failure.exception or (record.exception if record is not None else None)
        if exception and exception.get("type") == "WorkerDied":
            what = str(exception.get("message"))  # no Python exception: say what happened
        elif exception:  # the class's own name: "ValueError", not "builtins.ValueError"
            kind = str(exception.get("type")).rsplit(".", 1)[-1]
            what = f"{kind}: {exception.get('message')}"
        elif failure.exit_code < 0:
            what = f"the task process was killed by {_signal_name(-failure.exit_code)}"
        else:
            what = f"the task process exited with code {failure.exit_code}"
        lines.append(
            f"  Step '{spec.step}' failed in task {spec.pathspec} (attempt {spec.attempt}): {what}"
        )
    if len(result.failures) > 5:
        lines.append(f"  ... and {len(result.failures) - 5} more failed task(s).")
    flow_file = (
        os.path.relpath(req.flow_file) if not req.flow_file.startswith("..") else req.flow_file
    )
    # Under a profile (exported by the command line for the tasks), resume under it too;
    # else in the same stores, named when they are not the ones found by default.
    profile = os.environ.get("GRANGE_PROFILE")
    where = f" --profile {shlex.quote(profile)}" if profile else _stores_options(req)
    if req.project is not None:  # resume on the run's own @project branch
        where += "".join(f" {shlex.quote(arg)}" for arg in req.project.branch_options)
    lines.append(
        f"  Resume with: python {shlex.quote(flow_file)}{where} resume --origin-run-id {run_id}"
    )
    return "\n".join(lines)


def _signal_name(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def _stores_options(req: Any) -> str:
    """``--datastore-root``/``--metadata`` of the run, where resuming without them would
    look elsewhere (a password is left out: libpq finds it in PGPASSWORD or ~/.pgpass)."""
    from pathlib import Path

    from grange.datastore.root import find_datastore_root

    out = ""
    root = req.datastore_root
    default = find_datastore_root(Path.cwd(), None, {})
    if not root.is_local or root.path != default:
        out += f" --datastore-root {shlex.quote(str(root))}"
    if req.metadata_url not in ("", "local"):
        out += f" --metadata {shlex.quote(_without_password(req.metadata_url))}"
    return out


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.partition("@")
    if sep and at and ":" in userinfo:
        return f"{scheme}://{userinfo.split(':', 1)[0]}@{host}"
    return url
