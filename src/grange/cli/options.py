"""Options that several commands of the ``grange`` script share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def store_options(command: F) -> F:
    """``--datastore``, ``--datastore-root`` and ``--metadata``: the store a command reads or repairs."""
    command = click.option(
        "--metadata",
        metavar="URL",
        envvar="GRANGE_METADATA",
        help="Metadata index: 'local' (SQLite under the datastore root) or a postgresql:// URL.",
    )(command)
    command = click.option(
        "--datastore",
        type=click.Choice(["local", "s3"]),
        envvar="GRANGE_DATASTORE",
        help="Where artifacts are stored: 'local' (default) or 's3' (with an s3:// root).",
    )(command)
    return click.option(
        "--datastore-root",
        metavar="PATH|URL",
        envvar="GRANGE_DATASTORE_ROOT",
        help="Where runs are stored: a directory or s3://bucket/prefix "
        "[default: the nearest .grange/].",
    )(command)


def profile_option(command: F) -> F:
    """``--profile NAME``: the profile of ``~/.grange/config.toml`` to work under."""
    return click.option(
        "--profile",
        metavar="NAME",
        help="Work under this profile of ~/.grange/config.toml (or $GRANGE_CONFIG) "
        "[default: $GRANGE_PROFILE, else the file's default_profile].",
    )(command)
