"""``package list|info|save``: the code package of the flow, as Metaflow's ``package`` verbs.

The package is built from the flow's directory as ``run`` builds it (``.py``
files plus ``--package-suffixes``, ``.gitignore``/``.grangeignore`` honoured,
grange's own source added); these commands show or save it without storing
it in the datastore.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from grange.cli.context import FlowContext, display_path, pass_flow
from grange.cli.errors import GuardedGroup
from grange.exceptions import CommandError

if TYPE_CHECKING:
    from grange.environments.package import Package


@click.group(
    cls=GuardedGroup,
    short_help="List, describe or save the flow's code package.",
    help="The code package every run records and every pod runs from: the flow's "
    "directory (.py files and --package-suffixes, minus what .gitignore/.grangeignore "
    "exclude) and grange's own source.",
)
def package() -> None:
    """The ``package`` commands."""


@package.command("list", help="List the files the code package would hold, with their sizes.")
@pass_flow
def list_files(flow: FlowContext) -> None:
    built = _build(flow)
    selection = built.selection
    where = display_path(str(selection.root))
    flow.say(
        f"Files of {str(selection.root) if where == '.' else where} in the code package "
        f"(suffixes {','.join(selection.suffixes)}; change with --package-suffixes):"
    )
    width = max((len(_size(f.size)) for f in selection.files), default=0)
    for file in selection.files:
        click.echo(f"{_size(file.size):>{width}}  {file.name}")
    for skipped in selection.skipped:
        flow.say(f"left out: {skipped.name} ({skipped.reason})")
    flow.say(
        f"{len(selection.files)} file(s), {_size(selection.size)}; the package also holds "
        f"INFO.json and grange's source: {_size(built.size)} compressed"
    )


@package.command("info", help="Show the code package's sha256, size and contents.")
@pass_flow
def info(flow: FlowContext) -> None:
    built = _build(flow)
    from grange._version import __version__

    click.echo(f"sha256: {built.sha}")
    click.echo(f"size: {_size(built.size)} ({built.size} bytes)")
    click.echo(f"flow file: {built.flow_file}")
    click.echo(f"files of the flow: {len(built.selection.files)}")
    click.echo(f"grange: {__version__}")


@package.command("save", help="Write the code package (a .tar.gz) to PATH.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@pass_flow
def save(flow: FlowContext, path: Path) -> None:
    built = _build(flow)
    try:
        path.write_bytes(built.data)
    except OSError as err:
        raise CommandError(
            f"cannot write the code package to {path}: {err.strerror or err}",
            fix="name a file in a directory you may write to",
        ) from None
    flow.say(f"Saved the code package in {path} ({_size(built.size)}, sha256 {built.sha}).")


def _build(flow: FlowContext) -> Package:
    from grange.cli.runtime_options import datastore_root
    from grange.environments.package import build_package

    root = datastore_root(flow.settings)
    exclude = [str(root.path)] if root.is_local else []
    return build_package(
        flow.flow_file, flow.flow_name, flow.settings.package_suffixes, exclude=exclude
    )


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
