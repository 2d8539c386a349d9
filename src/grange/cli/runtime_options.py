"""Turning command-line options into what the runtime needs: where to store,
who runs, and a :class:`~grange.runtime.RunRequest`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grange.cli.context import FlowContext, Settings
from grange.parameters import current_username

if TYPE_CHECKING:
    from grange.datastore import DatastoreLocation
    from grange.runtime import RunRequest


def datastore_root(settings: Settings) -> DatastoreLocation:
    """The datastore: the flag, else $GRANGE_DATASTORE_ROOT, else the nearest .grange/
    (an s3:// location with --datastore s3; see grange.datastore.location)."""
    from grange.datastore import resolve_location

    return resolve_location(
        Path.cwd(), settings.datastore_root, os.environ, kind=settings.datastore
    )


def metadata_url(settings: Settings) -> str:
    """The metadata URL from the flag / $GRANGE_METADATA; ``local`` (the default)
    means SQLite under the datastore root, resolved by whoever opens it."""
    return settings.metadata or "local"


def top_level_args(settings: Settings, root: DatastoreLocation, url: str) -> list[str]:
    """Top-level options that a fresh ``python flow.py step`` needs to find the same stores."""
    args = ["--datastore-root", str(root), "--metadata", url]
    if settings.debug:
        args.append("--debug")
    return args


def build_request(
    flow: FlowContext,
    options: dict[str, Any],
    *,
    parameters: dict[str, Any],
    resume: bool,
    origin_run_id: str | None = None,
    resume_step: str | None = None,
) -> RunRequest:
    from grange.runtime import RunRequest

    root = datastore_root(flow.settings)
    url = metadata_url(flow.settings)
    return RunRequest(
        flow_cls=flow.flow_cls,
        flow_file=flow.flow_file,
        datastore_root=root,
        metadata_url=url,
        user=current_username(),
        namespace=options.get("run_namespace") or flow.settings.namespace,
        tags=tuple(options.get("tags") or ()),
        parameters=parameters,
        max_workers=options["max_workers"],
        max_num_splits=options["max_num_splits"],
        run_id_file=options.get("run_id_file"),
        fork=not options.get("no_fork") and hasattr(os, "fork") and sys.platform != "win32",
        quiet=flow.settings.quiet,
        top_level_args=top_level_args(flow.settings, root, url),
        resume=resume,
        origin_run_id=origin_run_id,
        resume_step=resume_step,
        force=bool(options.get("force")),
        decospecs=(*flow.settings.with_decorators, *(options.get("with_decorators") or ())),
        live=sys.stdout.isatty() and not os.environ.get("GRANGE_PLAIN_OUTPUT"),
    )
