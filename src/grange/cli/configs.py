"""``--config NAME FILE`` and ``--config-value NAME JSON``: a flow's configs on its
command line, bound before any command is built.

click builds a subcommand (``run`` and its parameter options, whose defaults may
read configs) before the group's callback runs, so the binding happens in
:meth:`grange.cli.commands.LazyGroup.resolve_command`, from the group's options
already parsed. ``resume`` takes no config: it binds its origin run's values
(:mod:`grange.cli.origin_configs`), as Metaflow's resume does.
"""

from __future__ import annotations

import os
from typing import Any

import click

from grange.cli.commands import COMMAND_ARGS
from grange.exceptions import CommandError, LintError
from grange.graph.configs import bind_configs, has_configs
from grange.user_configs import flow_configs
from grange.user_configs.read import sources_from_env

FILES_DEST = "config_files"
TEXTS_DEST = "config_texts"


def config_options(flow_cls: type) -> list[click.Option]:
    """The two options of a flow with configs (none for a flow without)."""
    configs = flow_configs(flow_cls)
    if not configs:
        return []
    names = [c.name for c in configs.values() if isinstance(c.name, str)]
    lines = "; ".join(
        f"{c.name}"
        + (f": {c.help}" if c.help else "")
        + (
            f" [default: {c.default}]"
            if c.default and c.show_default and not callable(c.default)
            else ""
        )
        for c in configs.values()
    )
    choice = click.Choice(names)
    return [
        click.Option(
            ["--config", FILES_DEST],
            nargs=2,
            multiple=True,
            type=(choice, str),
            metavar="NAME FILE",
            help=f"Read config NAME from FILE (repeatable; not with resume). Configs: {lines}.",
        ),
        click.Option(
            ["--config-value", TEXTS_DEST],
            nargs=2,
            multiple=True,
            type=(choice, str),
            metavar="NAME JSON",
            help="Give config NAME as a JSON value (repeatable; not with resume).",
        ),
    ]


def bind_for_command(ctx: click.Context, flow_cls: type, command: str | None) -> None:
    """Bind the configs of ``flow_cls`` for ``command`` from the group's options and the
    environment. ``resume`` refuses the options and binds later, from its origin run."""
    if not has_configs(flow_cls):
        return
    files = _once(ctx.params.get(FILES_DEST) or (), "--config", "FILE")
    texts = _once(ctx.params.get(TEXTS_DEST) or (), "--config-value", "JSON")
    if command == "resume":
        if files or texts:
            raise CommandError(
                "Cannot specify --config or --config-value with 'resume': a resumed run "
                "keeps the configs of its origin run",
                fix="leave them out, or start a new run with them: python <flow file> "
                "--config NAME FILE run",
            )
        return
    flow_file = _flow_file(flow_cls)
    sources, errors = sources_from_env(
        os.environ, flow_dir=os.path.dirname(flow_file), flow_name=flow_cls.__name__
    )
    if errors:
        raise CommandError("; ".join(errors), fix="fix the variable, or unset it")
    for name in {*files, *texts}:  # the command line wins over the environment
        sources.files.pop(name, None)
        sources.texts.pop(name, None)
        if sources.bound is not None:
            sources.bound.pop(name, None)
    sources.files.update(files)
    sources.texts.update(texts)
    try:
        bind_configs(flow_cls, sources=sources)
    except LintError:
        if not _uses_no_values(ctx, command):
            raise
        # Metaflow defers a config error to the commands that use the values: `logs`,
        # `tag`, `--help`... work with a config missing (bound to None for them).
        try:
            bind_configs(flow_cls, sources=sources, lenient=True)
        except LintError:
            pass
        else:
            return
        raise


#: Commands that read runs, not the flow's configs.
_NO_VALUES = frozenset({"card", "dump", "help", "logs", "tag", "version"})


def _uses_no_values(ctx: click.Context, command: str | None) -> bool:
    if command in _NO_VALUES:
        return True
    args = ctx.meta.get(COMMAND_ARGS) or ()
    return any(a in ("--help", "-h") for a in args)


def _once(pairs: Any, option: str, metavar: str) -> dict[str, str]:
    """``{name: value}`` from an option's ``(name, value)`` pairs; a name given twice is
    refused (which one was meant?)."""
    out: dict[str, str] = {}
    for name, value in pairs:
        if name in out:
            raise CommandError(
                f"config '{name}' is given twice with {option}",
                fix=f"give each config once: {option} {name} {metavar}",
            )
        out[name] = value
    return out


def _flow_file(flow_cls: type) -> str:
    import inspect

    try:
        return os.path.abspath(inspect.getfile(flow_cls))
    except TypeError:
        return os.path.abspath(".")
