"""``grange db rebuild``: the metadata index, rebuilt from the datastore's records.

The index (``metadata.db`` under the datastore root, or PostgreSQL) is derived
from the records in the datastore and can always be rebuilt from them. By
default the command adds to the index what it lacks: runs it never saw (an
index moved away, restored from an old copy, or a second ``--metadata``
index used over the same datastore) and tasks it missed (a runtime killed
before its last batch reached the index). With ``--fresh``, or when the local
``metadata.db`` is damaged, the old file is moved aside (``metadata.db.old-<time>``)
and a new index is built from nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grange.cli.context import Settings
from grange.cli.options import store_options
from grange.cli.runtime_options import datastore_root, metadata_url
from grange.exceptions import CommandError, MetadataError, StoreReadOnlyError

if TYPE_CHECKING:
    from grange.datastore import DatastoreLocation


@click.group(short_help="Look after the metadata index (rebuild it from the datastore).")
def db() -> None:
    """The metadata index: a database derived from the records in the datastore."""


@db.command(
    short_help="Rebuild the metadata index from the datastore's records.",
    help="Add to the metadata index every run and task whose records are in the datastore "
    "but that the index does not know. With --fresh (or when the local metadata.db is "
    "damaged) the old file is moved aside and a new index is built from the records. "
    "Do not run it with --fresh while runs are running.",
)
@click.option("--flow", "flows", multiple=True, metavar="NAME", help="Only this flow (repeatable).")
@click.option("--fresh", is_flag=True, help="Move the local metadata.db aside and build a new one.")
@store_options
@click.pass_context
def rebuild(
    ctx: click.Context,
    flows: tuple[str, ...],
    fresh: bool,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Rebuild, and print what was added."""
    from grange.metastore import MetadataStore, sqlite_url
    from grange.reindex import flows_in
    from grange.reindex import rebuild as rebuild_index

    base = ctx.find_object(Settings) or Settings()
    settings = Settings(
        debug=base.debug,
        quiet=base.quiet,
        datastore=datastore,
        datastore_root=datastore_root,
        metadata=metadata,
        profile=base.profile,
    )
    location = _datastore(settings)
    root = location.index_dir  # where the local index lives
    metadata = metadata_url(settings)  # the flag, else the profile's
    local = metadata in (None, "", "local")
    blobs = location.open()
    missing = [f for f in flows if f not in flows_in(blobs)]
    if missing:
        raise CommandError(
            f"the datastore at {location} has no runs of {', '.join(missing)}",
            fix="check the flow name (its class name) and --datastore-root",
        )
    if fresh and not local:
        raise CommandError(
            "--fresh replaces the local metadata.db only",
            fix="drop --fresh: the runs the database lacks are added to it",
        )
    if local and not location.is_local:
        root.mkdir(parents=True, exist_ok=True)
    if (fresh or local) and not os.access(root, os.W_OK):
        raise StoreReadOnlyError(
            f"cannot rebuild the index in {root}: the store is read-only here",
            fix="copy the store somewhere writable; reading it works as it is "
            "(the client builds a temporary index when metadata.db is missing)",
        )

    def progress(pathspec: str) -> None:
        if not settings.quiet:
            click.echo(f"  reading {pathspec}", err=True)

    started = time.monotonic()
    url = sqlite_url(root) if local else str(metadata)
    where = root / "metadata.db" if local else url.split("@")[-1]
    if fresh:
        report = _fresh(root, blobs, progress)
    else:
        try:
            report = rebuild_index(
                blobs, MetadataStore.from_url(url), flows=flows or None, progress=progress
            )
        except MetadataError as err:
            if not local or "damaged" not in err.message:
                raise
            click.echo(f"The index {where} is damaged ({err.message}).", err=True)
            report = _fresh(root, blobs, progress)
    took = time.monotonic() - started
    click.echo(
        f"Rebuilt the index {where} from {blobs.describe()}: {report.describe()} ({took:.2f}s)."
    )


def _fresh(root: Path, blobs: Any, progress: Any) -> Any:
    """Build a new local index beside the old one, then swap it in (old moved aside)."""
    from grange.reindex import build_local_index

    _, report = build_local_index(root, blobs, replace=True, progress=progress)
    if report.moved_aside is not None:
        click.echo(f"Moved the old index aside: {report.moved_aside}")
    return report


def _datastore(settings: Settings) -> DatastoreLocation:
    location = datastore_root(settings)
    if location.is_local and not location.path.is_dir():
        raise CommandError(
            f"there is no datastore at {location}",
            fix="run it where a flow's .grange/ folder is, or pass --datastore-root",
        )
    return location
