"""Load a flow class from a flow file, and expose a flow command as ``grange NAME FLOW_FILE``.

The file is imported under a private module name, so its
``if __name__ == "__main__":`` block does not run, with its folder first on
``sys.path`` as when Python runs it as a script (so ``from base_flow import
BaseFlow`` beside it works). The flow is the FlowSpec subclass defined in
that file (flows it imports do not count); when it defines several,
``--flow NAME`` picks one.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import sys
import traceback
from types import ModuleType
from typing import Any

import click

from grange.cli.context import FlowContext, Settings
from grange.cli.errors import GuardedCommand
from grange.exceptions import CommandError, FlowDefinitionError, GrangeError
from grange.flowspec import FlowSpec


def load_flow_class(path: str, flow_name: str | None = None) -> type[FlowSpec]:
    """The flow class defined in the file at ``path`` (``flow_name`` if it has several)."""
    module = _import_flow_file(os.path.abspath(path))
    flows = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, FlowSpec)
        and obj is not FlowSpec
        and obj.__module__ == module.__name__
    ]
    return _pick_flow(path, flows, flow_name)


def _import_flow_file(path: str) -> ModuleType:
    if not os.path.isfile(path):
        raise CommandError(f"no flow file at {path}", fix="give the path of a .py file")
    digest = hashlib.sha1(path.encode()).hexdigest()[:12]
    name = f"_grange_flow_file_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandError(f"{path} cannot be imported as Python", file=path)
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module  # inspect (and so the graph parser) looks classes up here
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, (GrangeError, KeyboardInterrupt, SystemExit)):
            raise
        if isinstance(exc, SyntaxError):
            raise FlowDefinitionError(
                f"syntax error: {exc.msg}", file=exc.filename or path, line=exc.lineno
            ) from exc
        raise FlowDefinitionError(
            f"importing the flow file raised {type(exc).__name__}: {exc}",
            file=path,
            line=_failing_line(exc, path),
            fix=f"run 'python {os.path.relpath(path)}' to see the full error",
        ) from exc
    return module


def _failing_line(exc: BaseException, path: str) -> int | None:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else None


def _pick_flow(path: str, flows: list[type[FlowSpec]], wanted: str | None) -> type[FlowSpec]:
    names = [flow.__name__ for flow in flows]
    if not flows:
        raise CommandError(
            f"{path} defines no flow (no class derives from FlowSpec)",
            fix="define a flow in it: class MyFlow(FlowSpec) with @step methods",
        )
    if wanted is not None:
        for flow in flows:
            if flow.__name__ == wanted:
                return flow
        close = difflib.get_close_matches(wanted, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise CommandError(
            f"{path} defines no flow named '{wanted}'",
            fix=f"{hint}it defines: {', '.join(names)}",
        )
    if len(flows) > 1:
        raise CommandError(
            f"{path} defines several flows: {', '.join(names)}",
            fix=f"choose one with --flow NAME, e.g. --flow {names[0]}",
        )
    return flows[0]


def for_flow_file(command: click.Command) -> click.Command:
    """``command`` taking ``FLOW_FILE`` and ``--flow NAME`` to find the flow it works on."""
    callback = command.callback
    if callback is None:
        raise TypeError(f"command {command.name!r} has no callback")

    def run(flow_file: str, flow: str | None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        settings = ctx.find_object(Settings) or Settings()
        flow_cls = load_flow_class(flow_file, flow)
        from grange.cli.configs import bind_for_command

        bind_for_command(ctx, flow_cls, None)  # its configs' defaults (or the environment's)
        ctx.obj = FlowContext(flow_cls, settings, flow_file, via_grange=True, flow_option=flow)
        return ctx.invoke(callback, **kwargs)

    params: list[click.Parameter] = [
        click.Argument(["flow_file"], type=click.Path(exists=True, dir_okay=False)),
        click.Option(
            ["--flow"],
            metavar="NAME",
            help="The flow class to use when the file defines several.",
        ),
        *command.params,
    ]
    return GuardedCommand(
        name=command.name,
        params=params,
        callback=run,
        help=command.help,
        short_help=command.short_help,
        epilog=command.epilog,
        hidden=command.hidden,
        options_metavar=command.options_metavar,
    )
