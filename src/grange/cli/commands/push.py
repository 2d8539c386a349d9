"""``grange push FLOW/RUN --to-datastore-root URL``: copy a local run to a team's store.

The run's records, logs and artifact blobs are copied (blobs the target has
are skipped: they are shared by content), the run gets a new id in the target
and is indexed in the target's metadata. Interrupted, the same command
continues where it stopped. See :mod:`grange.reindex.push`.
"""

from __future__ import annotations

import time
from typing import Any

import click

from grange.cli.context import Settings
from grange.cli.options import store_options
from grange.cli.runtime_options import datastore_root as resolve_datastore
from grange.cli.runtime_options import effective
from grange.exceptions import CommandError


@click.command(
    short_help="Copy a finished run to another store (a team's S3 + PostgreSQL).",
    help="Copy run FLOW/RUN (records, logs, artifacts) from this store to another one, "
    "where it gets a new run id. Blobs the target holds already are not copied again; "
    "an interrupted push continues when run again.",
)
@click.argument("pathspec", metavar="FLOW/RUN")
@click.option(
    "--to",
    "to_profile",
    metavar="PROFILE",
    help="The target: a profile of ~/.grange/config.toml (its datastore, metadata and policy).",
)
@click.option(
    "--to-datastore-root",
    "to_root",
    metavar="PATH|URL",
    help="The target datastore: s3://bucket/prefix or a directory.",
)
@click.option(
    "--to-metadata",
    metavar="URL",
    help="The target's metadata index: a postgresql:// URL, or 'local' "
    "(SQLite beside a local target, or this machine's cache for S3) [default: local].",
)
@click.option("--force", is_flag=True, help="Push a run that never ended (its runtime died).")
@store_options
@click.pass_context
def push(
    ctx: click.Context,
    pathspec: str,
    to_profile: str | None,
    to_root: str | None,
    to_metadata: str | None,
    force: bool,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Push one run."""
    from grange.datastore.location import DatastoreLocation, cache_dir
    from grange.metastore import MetadataStore, sqlite_url
    from grange.reindex.push import journal_path, push_run

    base = ctx.find_object(Settings) or Settings()
    flow, _, run_id = pathspec.strip("/").partition("/")
    if not flow.isidentifier() or not run_id or "/" in run_id:
        raise CommandError(
            f"expected FLOW/RUN, not {pathspec!r}", fix="e.g. grange push TrainFlow/12 ..."
        )
    if to_profile and to_root:
        raise CommandError(
            "--to PROFILE and --to-datastore-root both name the target",
            fix="give one of them",
        )
    target_profile = None
    if to_profile:
        to_root, to_metadata, target_profile = _profile_target(to_profile, to_metadata)
    if not to_root:
        raise CommandError(
            "where to? no target was given",
            fix="pass --to PROFILE, or --to-datastore-root s3://BUCKET/PREFIX "
            "(and --to-metadata postgresql://...)",
        )
    source_settings = Settings(
        debug=base.debug,
        quiet=base.quiet,
        datastore=datastore,
        datastore_root=datastore_root,
        profile=base.profile,
    )
    source = resolve_datastore(source_settings)
    target = DatastoreLocation.of(to_root)
    if target == source:
        raise CommandError(f"the run is in {source} already", fix="give another target")
    source_blobs = source.open(s3=effective(source_settings).s3_overrides() or None)
    if target_profile is not None:
        _check_target_policy(target_profile.policy, source_blobs, flow, run_id, str(target))
    if not to_metadata or to_metadata == "local":
        target.make_index_dir()
        to_metadata = sqlite_url(target.index_dir)
    started = time.monotonic()
    say = (lambda _: None) if base.quiet else (lambda text: click.echo(text, err=True))
    report = push_run(
        source_blobs,
        flow,
        run_id,
        target.open(s3=target_profile.s3_overrides() if target_profile else None),
        MetadataStore.from_url(to_metadata),
        journal=journal_path(cache_dir(), str(source), str(target), flow, run_id),
        force=force,
        progress=say,
    )
    again = " (continued an earlier push)" if report.resumed else ""
    click.echo(
        f"Pushed {report.source} to {target} as {report.target}{again}: {report.describe()} "
        f"({time.monotonic() - started:.2f}s)."
    )


def _profile_target(name: str, to_metadata: str | None) -> tuple[str, str, Any]:
    """The datastore root, metadata URL and effective settings of profile ``name``."""
    from grange.config import resolve_profile

    effective = resolve_profile(name)
    root = effective.datastore_root.value
    if not isinstance(root, str) or not root:
        raise CommandError(
            f"profile {name!r} sets no datastore_root, so there is nowhere to push to",
            fix=f"set datastore_root in [profiles.{name}] of {effective.config_file}",
        )
    return root, to_metadata or str(effective.metadata.value or "local"), effective


def _check_target_policy(policy: Any, blobs: Any, flow: str, run_id: str, root: str) -> None:
    """The target profile's policy holds for this run: its datastore root, its tags."""
    from grange.config import check_datastore_root, check_tags
    from grange.datastore.runs import read_claim, read_tags

    check_datastore_root(policy, root)
    tags = read_tags(blobs, flow, run_id)
    if tags is None:
        claim = read_claim(blobs, flow, run_id)
        tags = list(claim.tags) if claim is not None else []
    check_tags(policy, tags)
