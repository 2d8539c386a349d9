"""``grange db``: look after the metadata index (status, upgrade, sync, rebuild).

The index (``metadata.db`` under the datastore root, or PostgreSQL with
``--metadata`` / ``GRANGE_METADATA``) is derived from the records in the
datastore and can always be rebuilt from them.

- ``status``: which database, its schema version, how many runs it holds.
- ``upgrade``: apply the schema migrations it lacks. A local SQLite index is
  upgraded by itself when opened; a PostgreSQL database is shared, so an
  older one is refused until someone upgrades it on purpose, once.
- ``sync``: index every run whose records are in the datastore but that the
  index lacks (runs that wrote only records: tasks that could not reach the
  database), and the tasks it lacks of unfinished runs. Adds only; cheap.
- ``rebuild``: like ``sync``, but reads every run, finished ones included
  (an index restored from an old copy). With ``--fresh``, or when the local
  ``metadata.db`` is damaged, the old file is moved aside
  (``metadata.db.old-<time>``) and a new index is built from nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grange.cli.context import Settings, store_settings
from grange.cli.options import store_options
from grange.cli.runtime_options import datastore_root, metadata_url
from grange.exceptions import CommandError, MetadataError, StoreReadOnlyError

if TYPE_CHECKING:
    from grange.datastore import DatastoreLocation


@click.group(short_help="Look after the metadata index (status, upgrade, sync, rebuild).")
def db() -> None:
    """The metadata index: a database derived from the records in the datastore."""


@db.command(
    short_help="Show the metadata database and its schema version.",
    help="Show which metadata database is used (the local metadata.db, or the "
    "PostgreSQL database of --metadata / GRANGE_METADATA, password masked), its schema "
    "version and whether it needs 'grange db upgrade', and how many runs it holds.",
)
@store_options
def status(datastore: str | None, datastore_root: str | None, metadata: str | None) -> None:
    """Print the status."""
    from grange.metastore.admin import CURRENT, EMPTY, NEWER, OLDER, schema_status

    url, shown = _index_url(datastore, datastore_root, metadata, must_exist=False)
    if url is None:
        click.echo(f"Metadata index  {shown}: none yet (the first run creates it)")
        return
    found = schema_status(url)
    upgrade_it = (
        "grange upgrades it when it next opens it (or now: grange db upgrade)"
        if url.startswith("sqlite:")
        else "run 'grange db upgrade' once"
    )
    verdicts = {
        EMPTY: "empty (grange creates its tables on first use)",
        CURRENT: f"{found.version}, up to date",
        OLDER: f"{found.version}; this grange needs {found.latest}: {upgrade_it}",
        NEWER: f"{found.version}, written by a newer grange (this one knows up to "
        f"{found.latest}): pip install --upgrade grange",
    }
    rows = [
        ("Metadata index", shown),
        ("Server", found.server),
        ("Schema version", verdicts[found.state]),
    ]
    if found.runs is not None:
        rows.append(("Runs", f"{found.runs} in {found.flows} flow(s)"))
    if found.pool is not None:
        rows.append(("Connection pool", found.pool.describe()))
    for name, value in rows:
        click.echo(f"{name:<17}{value}")


@db.command(
    short_help="Apply the schema migrations the metadata database lacks.",
    help="Bring the metadata database to the schema version of this grange. A local "
    "metadata.db is upgraded by itself when opened; a PostgreSQL database is shared by a "
    "team, so grange refuses one at an older version until it is upgraded with this "
    "command, once (every grange that uses it must then be this version or newer). "
    "Several processes may run it at once: they wait for each other.",
)
@store_options
def upgrade(datastore: str | None, datastore_root: str | None, metadata: str | None) -> None:
    """Upgrade, and print what was done."""
    from grange.metastore.admin import upgrade as upgrade_schema

    url, shown = _index_url(datastore, datastore_root, metadata, must_exist=True)
    assert url is not None
    done = upgrade_schema(url)
    if not done.applied:
        click.echo(f"The metadata index {shown} is up to date (schema version {done.after}).")
        return
    for version, what in done.applied if done.before else ():
        click.echo(f"  applied migration {version}: {what}")
    if done.before == 0:
        click.echo(
            f"Created the tables of the metadata index {shown} (schema version {done.after})."
        )
        return
    click.echo(
        f"Upgraded the metadata index {shown} from schema version {done.before} to {done.after}."
    )


@db.command(
    short_help="Index the runs whose records the index lacks (adds only).",
    help="Index every run whose records are in the datastore but that the metadata index "
    "lacks, and the tasks it lacks of runs it holds as unfinished: runs whose tasks could "
    "not reach the database (a pod, a machine offline) and wrote only records. Runs the "
    "index has as finished are not read, and runs whose runtime is still running are left "
    "to it. Prints each run it added.",
)
@click.option("--flow", "flows", multiple=True, metavar="NAME", help="Only this flow (repeatable).")
@store_options
@click.pass_context
def sync(
    ctx: click.Context,
    flows: tuple[str, ...],
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Sync, and print what was added."""
    from grange.reindex import sync as sync_index

    target = _Target(ctx, datastore, datastore_root, metadata, flows)
    started = time.monotonic()
    report = sync_index(target.blobs, target.open_index(), flows=flows or None)
    for pathspec in report.runs:
        click.echo(f"  added {pathspec}")
    for pathspec in report.ended:
        click.echo(f"  ended {pathspec}")
    took = time.monotonic() - started
    click.echo(
        f"Synced the index {target.where} with {target.blobs.describe()}: "
        f"{report.describe()} ({took:.2f}s)."
    )


@db.command(
    short_help="Rebuild the metadata index from the datastore's records.",
    help="Add to the metadata index every run and task whose records are in the datastore "
    "but that the index does not know, reading every run (finished ones too; 'grange db "
    "sync' reads only what may be missing). With --fresh (or when the local metadata.db "
    "is damaged) the old file is moved aside and a new index is built from the records. "
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
    from grange.metastore import MetadataStore
    from grange.reindex import rebuild as rebuild_index

    target = _Target(ctx, datastore, datastore_root, metadata, flows)
    if fresh and not target.local:
        raise CommandError(
            "--fresh replaces the local metadata.db only",
            fix="drop --fresh: the runs the database lacks are added to it",
        )

    def progress(pathspec: str) -> None:
        if not target.settings.quiet:
            click.echo(f"  reading {pathspec}", err=True)

    started = time.monotonic()
    if fresh:
        report = _fresh(target.root, target.blobs, progress)
    else:
        try:
            index = MetadataStore.from_url(target.url)
            report = rebuild_index(target.blobs, index, flows=flows or None, progress=progress)
        except MetadataError as err:
            if not target.local or "damaged" not in err.message:
                raise
            click.echo(f"The index {target.where} is damaged ({err.message}).", err=True)
            report = _fresh(target.root, target.blobs, progress)
    took = time.monotonic() - started
    click.echo(
        f"Rebuilt the index {target.where} from {target.blobs.describe()}: "
        f"{report.describe()} ({took:.2f}s)."
    )


class _Target:
    """The datastore and the index a ``sync`` or ``rebuild`` works on, checked."""

    def __init__(
        self,
        ctx: click.Context,
        kind: str | None,
        root_option: str | None,
        metadata: str | None,
        flows: tuple[str, ...],
    ) -> None:
        from grange.metastore import sqlite_url
        from grange.metastore.urls import mask_url
        from grange.reindex import flows_in

        self.settings = store_settings(kind, root_option, metadata)
        self.location = _datastore(self.settings)
        self.root = self.location.index_dir  # where a local index lives
        metadata = metadata_url(self.settings)  # the flag, else the profile's
        self.local = metadata in (None, "", "local")
        if self.local and not self.location.is_local:
            self.location.make_index_dir()
        self.url = sqlite_url(self.root) if self.local else str(metadata)
        self.where = str(self.root / "metadata.db") if self.local else mask_url(self.url)
        self.blobs = self.location.open()
        missing = [f for f in flows if f not in flows_in(self.blobs)]
        if missing:
            raise CommandError(
                f"the datastore at {self.location} has no runs of {', '.join(missing)}",
                fix="check the flow name (its class name) and --datastore-root",
            )
        if self.local and not os.access(self.root, os.W_OK):
            raise StoreReadOnlyError(
                f"cannot change the index in {self.root}: the store is read-only here",
                fix="copy the store somewhere writable; reading it works as it is "
                "(the client builds a temporary index when metadata.db is missing)",
            )

    def open_index(self) -> Any:
        """The index, a missing local one built from the records first."""
        from grange.metastore import MetadataStore
        from grange.reindex import open_local_index

        if self.local:
            return open_local_index(self.root, self.blobs)
        return MetadataStore.from_url(self.url)


def _index_url(
    kind: str | None, root_option: str | None, metadata: str | None, *, must_exist: bool
) -> tuple[str | None, str]:
    """The index's URL (None: a local one not created yet) and how to name it."""
    from grange.metastore import sqlite_url
    from grange.metastore.urls import mask_url

    settings = store_settings(kind, root_option, metadata)
    metadata = metadata_url(settings)  # the flag, else the profile's
    if metadata not in (None, "", "local"):
        return str(metadata), mask_url(str(metadata))
    root = datastore_root(settings).index_dir
    path = root / "metadata.db"
    if path.is_file():
        return sqlite_url(root), str(path)
    if must_exist:
        raise CommandError(
            f"there is no metadata index at {path}",
            fix="run it where a flow's .grange/ folder is, or pass --datastore-root or "
            "--metadata; a new index is created at the current version by the first run",
        )
    return None, str(path)


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
