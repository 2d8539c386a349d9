"""What a user sees when a command fails: a message and an exit code, no traceback.

- A :class:`~grange.exceptions.GrangeError` (a problem the user can fix) prints
  its :meth:`~grange.exceptions.GrangeError.render` text on stderr and ends
  with its ``exit_code``.
- click's own exceptions (usage errors, ``Exit``, ``Abort``) pass through and
  click prints them as usual (usage errors end with exit status 2).
- Anything else is a bug in grange: one line naming the exception, a hint to
  rerun with ``--debug``, exit status 1.

With ``--debug`` (or ``GRANGE_DEBUG=1`` in the environment) every exception
is re-raised, so Python prints the full traceback.

:class:`GuardedCommand` and :class:`GuardedGroup` apply this to option parsing
and to the command's callback; subcommands of a guarded group are covered by
the group, so command modules need not do anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from grange.exceptions import GrangeError

F = TypeVar("F", bound=Callable[..., Any])

DEBUG_ENV = "GRANGE_DEBUG"
_DEBUG_META_KEY = "grange.debug"
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_PASS_THROUGH = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


def debug_requested(ctx: click.Context | None) -> bool:
    """True when ``--debug`` was given on this command line or ``GRANGE_DEBUG`` is set."""
    if ctx is not None and ctx.meta.get(_DEBUG_META_KEY):
        return True
    return os.environ.get(DEBUG_ENV, "").strip().lower() in _TRUE


def _remember_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_DEBUG_META_KEY] = True  # meta is shared with every subcommand
    return value


def debug_option(func: F) -> F:
    """The ``--debug`` flag, processed before any other option."""
    return click.option(
        "--debug",
        is_flag=True,
        is_eager=True,
        envvar=DEBUG_ENV,
        callback=_remember_debug,
        help=f"Show Python tracebacks instead of short error messages (also: {DEBUG_ENV}=1).",
    )(func)


def report(exc: Exception) -> int:
    """Print ``exc`` for the user on stderr; return the exit status to end with."""
    if isinstance(exc, GrangeError):
        click.echo(exc.render(), err=True)
        return exc.exit_code
    first_line = next(iter(str(exc).splitlines()), "")
    detail = f": {first_line}" if first_line else ""
    click.echo(f"Internal error: {type(exc).__name__}{detail}", err=True)
    click.echo(
        f"This is a bug in grange; run with --debug (or {DEBUG_ENV}=1) for the traceback.",
        err=True,
    )
    return 1


@contextmanager
def guard(ctx: click.Context | None) -> Iterator[None]:
    """Turn exceptions raised inside the block into a message and ``click`` exit."""
    try:
        yield
    except _PASS_THROUGH:
        raise
    except Exception as exc:
        if debug_requested(ctx):
            raise
        raise click.exceptions.Exit(report(exc)) from None


class GuardedCommand(click.Command):
    """A click command whose parsing and callback errors are reported by :func:`report`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        with guard(ctx):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with guard(ctx):
            return super().invoke(ctx)


class GuardedGroup(GuardedCommand, click.Group):
    """A click group guarded like :class:`GuardedCommand`, subcommands included."""

    command_class = GuardedCommand
