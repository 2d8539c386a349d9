"""``version``: print grange's version (Metaflow's ``python flow.py version``)."""

from __future__ import annotations

import click

from grange._version import __version__


@click.command(help="Print the version of grange.")
def version() -> None:
    """Print ``grange <version>``."""
    click.echo(f"grange {__version__}")
