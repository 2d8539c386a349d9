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

import click

from grange.cli.context import Settings
from grange.cli.runtime_options import datastore_root
from grange.exceptions import CommandError, MetadataError


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
@click.option(
    "--datastore-root",
    metavar="PATH",
    envvar="GRANGE_DATASTORE_ROOT",
    help="Where runs are stored [default: the nearest .grange/].",
)
@click.option(
    "--metadata",
    metavar="URL",
    envvar="GRANGE_METADATA",
    help="Metadata index: 'local' (SQLite under the datastore root) or a postgresql:// URL.",
)
@click.pass_context
def rebuild(
    ctx: click.Context,
    flows: tuple[str, ...],
    fresh: bool,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Rebuild, and print what was added."""
    from grange.datastore import LocalBlobStore
    from grange.metastore import MetadataStore, sqlite_url
    from grange.reindex import flows_in
    from grange.reindex import rebuild as rebuild_index

    base = ctx.find_object(Settings) or Settings()
    settings = Settings(debug=base.debug, quiet=base.quiet, datastore_root=datastore_root)
    root = _datastore_root(settings)
    local = metadata in (None, "", "local")
    url = sqlite_url(root) if local else str(metadata)
    blobs = LocalBlobStore(root)
    missing = [f for f in flows if f not in flows_in(blobs)]
    if missing:
        raise CommandError(
            f"the datastore at {root} has no runs of {', '.join(missing)}",
            fix="check the flow name (its class name) and --datastore-root",
        )
    if fresh and not local:
        raise CommandError(
            "--fresh replaces the local metadata.db only",
            fix="drop --fresh: the runs the database lacks are added to it",
        )
    started = time.monotonic()
    moved: list[Path] = []
    try:
        store = None if fresh else MetadataStore.from_url(url)
    except MetadataError as err:
        if not local or "damaged" not in err.message:
            raise
        click.echo(f"The index {root / 'metadata.db'} is damaged ({err.message}).", err=True)
        store = None
    if store is None:
        moved = _move_aside(root)
        store = MetadataStore.from_url(url)
    quiet = settings.quiet

    def progress(pathspec: str) -> None:
        if not quiet:
            click.echo(f"  reading {pathspec}", err=True)

    report = rebuild_index(blobs, store, flows=flows or None, progress=progress)
    took = time.monotonic() - started
    where = root / "metadata.db" if local else url.split("@")[-1]
    for path in moved:
        click.echo(f"Moved the old index aside: {path}")
    click.echo(
        f"Rebuilt the index {where} from {blobs.describe()}: {report.describe()} ({took:.2f}s)."
    )


def _datastore_root(settings: Settings) -> Path:
    root = datastore_root(settings)
    if not root.is_dir():
        raise CommandError(
            f"there is no datastore at {root}",
            fix="run it where a flow's .grange/ folder is, or pass --datastore-root",
        )
    return root


def _move_aside(root: Path) -> list[Path]:
    """Rename ``metadata.db`` (and its WAL files) to ``metadata.db.old-<time>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for suffix in ("", "-wal", "-shm"):
        path = root / f"metadata.db{suffix}"
        if path.exists():
            target = root / f"metadata.db.old-{stamp}{suffix}"
            os.replace(path, target)
            moved.append(target)
    return moved[:1]
