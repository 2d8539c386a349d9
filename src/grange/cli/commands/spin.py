"""``spin STEP``: re-run one step of an earlier run, with the flow file as it is now.

An edit-and-retry loop, as Metaflow 2.19's ``spin``: the step gets the inputs
the earlier run recorded (its parents' artifacts, the run's parameters, its
foreach item) and runs in this process, its output shown live; the result is
kept in the spin store, apart from real runs (``grange.inspect_spin()`` reads
it). What to spin, as Metaflow takes it:

- ``STEP``: the step of the latest run in the current namespace;
- ``RUN/STEP`` (or ``--run-id RUN``): of that run; ``RUN/STEP/TASK``: that task
  (a foreach step has one task per item: without TASK, the first that failed,
  else the first); ``FLOW/RUN/STEP[/TASK]`` as well.

Exit status: 0 when the step succeeded, 1 when it raised (its traceback is
printed), 2 when it could not be spun (said why).
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from grange.cli.context import FlowContext, display_path, pass_flow
from grange.cli.errors import GuardedCommand
from grange.exceptions import CommandError


@click.command(
    "spin",
    cls=GuardedCommand,
    short_help="Re-run one step of an earlier run with the flow file as it is now.",
    help="Re-run one step of an earlier run, in this process, with the flow file as it is "
    "now and the inputs that run recorded: an edit-and-retry loop. PATHSPEC is STEP (the "
    "latest run's), RUN/STEP or RUN/STEP/TASK. The result is kept apart from real runs; "
    "read it with grange.inspect_spin().",
)
@click.argument("pathspec", metavar="PATHSPEC")
@click.option(
    "--run-id",
    default=None,
    metavar="RUN",
    help="The run whose inputs the step gets [default: the latest run].",
)
@click.option(
    "--artifacts-module",
    default=None,
    metavar="FILE.py",
    help="A Python file defining ARTIFACTS = {'name': value, ...}: values that replace the "
    "step's input artifacts (for a join: {'RUN/STEP/TASK': {...}} per input).",
)
@click.option(
    "--skip-decorators/--no-skip-decorators",
    default=False,
    help="Run the step without its decorators (also a @pypi/@conda step, in this Python).",
)
@click.option(
    "--persist/--no-persist",
    default=True,
    show_default=True,
    help="Keep the spun task and its artifacts in the spin store (--no-persist: keep nothing).",
)
@click.option(
    "--max-log-size",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    metavar="MB",
    help="Keep at most this much of each of the step's output streams in its logs.",
)
@click.option("--run-id-file", default=None, metavar="FILE", help="Write the spin run's id here.")
@pass_flow
def spin(
    flow: FlowContext,
    pathspec: str,
    run_id: str | None,
    artifacts_module: str | None,
    skip_decorators: bool,
    persist: bool,
    max_log_size: int,
    run_id_file: str | None,
) -> None:
    """Find the task, spin it, print how it went; exit 1 when the step raised."""
    from grange.cli.reading import connect, find_run
    from grange.cli.runtime_options import datastore_root
    from grange.parameters import current_username
    from grange.runtime.spin import (
        SpinRequest,
        check_inputs,
        origin_task,
        read_artifacts_module,
    )
    from grange.runtime.spin import spin as spin_step
    from grange.runtime.spin.summary import summary_lines

    given_run, step, task_id = _parse(flow, pathspec, run_id)
    _check_step(flow, step)
    artifacts = read_artifacts_module(artifacts_module) if artifacts_module else None
    command = flow.command_line("spin")
    # A run named explicitly is read in every namespace (as logs and dump do); the
    # latest run is the current namespace's, as Metaflow's spin takes it.
    connect(flow.settings, every_namespace=given_run is not None)
    _check_store(flow)
    run = find_run(
        flow.flow_name, given_run, flow.command_line("--namespace NAMESPACE spin " + pathspec)
    )
    _bind_recorded_configs(flow, run)
    origin = origin_task(run, step, task_id, command=command, run_command=flow.command_line("run"))
    check_inputs(origin, flow.graph(), flow.flow_file, run.graph)
    flow.say(_announce(origin, task_id, command))
    result = spin_step(
        SpinRequest(
            flow_cls=flow.flow_cls,
            flow_file=flow.flow_file,
            origin=origin,
            datastore_root=datastore_root(flow.settings),
            user=current_username(),
            namespace=flow.settings.namespace,
            artifacts=artifacts,
            artifacts_path=artifacts_module,
            skip_decorators=skip_decorators,
            persist=persist,
            max_log_size=max_log_size * 1024 * 1024,
            decospecs=flow.settings.with_decorators,
            project=flow.project(),
            notice=flow.say,
        )
    )
    if run_id_file and result.store is not None:
        Path(run_id_file).write_text(result.run_id)
    lines = summary_lines(result)
    if result.ok:
        click.echo("\n".join(lines))
        return
    click.echo("\n".join(lines), err=True)
    sys.stdout.flush()
    raise SystemExit(1)


def _parse(flow: FlowContext, text: str, run_id: str | None) -> tuple[str | None, str, str | None]:
    """PATHSPEC (and ``--run-id``) as (run or None for the latest, step, task or None)."""
    from grange.cli.reading import parse_task_path

    if "/" not in text.strip("/"):
        return run_id, text.strip("/"), None
    given, step, task = parse_task_path(flow.flow_name, text)
    if run_id is not None and run_id != given:
        raise CommandError(
            f"spin {text} names run {given}, but --run-id says {run_id}",
            fix=f"give the run once: spin {given}/{step}" + (f"/{task}" if task else ""),
        )
    return given, step, task


def _check_store(flow: FlowContext) -> None:
    from grange.client.config import current_stores

    stores = current_stores()
    if not stores.exists():
        raise CommandError(
            f"no run of {flow.flow_name} is stored at {stores.root}: spin re-runs a step of "
            "an earlier run",
            fix=f"run the flow first: {flow.command_line('run')}",
        )


def _check_step(flow: FlowContext, step: str) -> None:
    steps = [n.name for n in flow.graph().sorted_nodes()]
    if step in steps:
        return
    close = difflib.get_close_matches(step, steps, n=1)
    raise CommandError(
        f"flow {flow.flow_name} has no step '{step}'",
        file=flow.flow_file,
        fix=(f"did you mean '{close[0]}'? " if close else "")
        + f"the steps of {display_path(flow.flow_file)} are: "
        + ", ".join(steps),
    )


def _announce(origin: object, task_given: str | None, command: str) -> str:
    from grange.runtime.spin import OriginTask

    assert isinstance(origin, OriginTask)
    text = f"Spinning {origin.pathspec} with the flow file as it is now"
    if origin.status not in ("ok", "running"):
        text += f" (it {origin.status} in run {origin.run_id})"
    if task_given is None and origin.siblings > 1:
        which = (
            f"foreach index {origin.foreach_index}, " if origin.foreach_index is not None else ""
        )
        text += (
            f"; {which}one of {origin.siblings} tasks of the step: pick another with "
            f"{command} {origin.run_id}/{origin.step}/TASK"
        )
    return text


def _bind_recorded_configs(flow: FlowContext, run: object) -> None:
    """A flow with configs spins with the values the run was started with (as resume
    does): its decorators and parameter defaults see them. A config named on this
    command line (``--config``/``--config-value``) takes the value given instead: the
    user is trying it out on the step."""
    from grange.cli.configs import FILES_DEST, TEXTS_DEST
    from grange.graph.configs import bind_configs, has_configs
    from grange.user_configs import ConfigValue, bound_values

    if not has_configs(flow.flow_cls):
        return
    recorded = getattr(run, "config", None) or {}
    if not recorded:  # a run from before configs were recorded: as the command line bound
        return
    values = {
        name: value.to_dict() if isinstance(value, ConfigValue) else value
        for name, value in recorded.items()
    }
    params = click.get_current_context().find_root().params
    given = {name for dest in (FILES_DEST, TEXTS_DEST) for name, _ in params.get(dest) or ()}
    if given:  # bound from the command line already (before this command ran)
        current = bound_values(flow.flow_cls) or {}
        values.update({name: current[name] for name in given if name in current})
        flow.say(
            "spin uses the configs of run "
            f"{getattr(run, 'id', '?')} but {', '.join(sorted(given))}, given on the command line"
        )
    bind_configs(flow.flow_cls, values)
