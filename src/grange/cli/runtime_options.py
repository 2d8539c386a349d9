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
    from grange.config import Effective
    from grange.datastore import DatastoreLocation
    from grange.decorators.project import ProjectInfo
    from grange.runtime import RunRequest


def effective(settings: Settings) -> Effective:
    """The profile in force and the settings it gives (flags > environment > profile >
    defaults), read from the configuration file now (see :func:`grange.config.resolve`)."""
    from grange.config import resolve

    flags = {
        "datastore": settings.datastore,
        "datastore_root": settings.datastore_root,
        "metadata": settings.metadata,
    }
    return resolve(settings.profile, os.environ, flags=flags)


def datastore_root(settings: Settings) -> DatastoreLocation:
    """The datastore: the flag, else $GRANGE_DATASTORE_ROOT, else the profile's root,
    else the nearest .grange/ (an s3:// location with --datastore s3; see
    grange.datastore.location)."""
    from grange.datastore import resolve_location

    if settings.datastore_root:  # the flag wins: no need to read the profile (``step``)
        root, kind = settings.datastore_root, settings.datastore
    else:
        profile = effective(settings)
        root = profile.datastore_root.value
        kind = profile.datastore.value if profile.datastore.source != "default" else None
    return resolve_location(Path.cwd(), root, os.environ, kind=kind)


def metadata_url(settings: Settings) -> str:
    """The metadata URL from the flag / $GRANGE_METADATA, else the profile's;
    ``local`` (the default) means SQLite under the datastore root, resolved by
    whoever opens it."""
    return settings.metadata or str(effective(settings).metadata.value)


def top_level_args(settings: Settings, root: DatastoreLocation, url: str) -> list[str]:
    """Top-level options that a fresh ``python flow.py step`` needs to find the same stores."""
    from grange.config import mask_text

    args = ["--datastore-root", str(root)]
    if mask_text(url) == url:  # a password stays out of command lines (ps shows them);
        args += ["--metadata", url]  # the tasks' GRANGE_METADATA holds it (run.execute)
    if settings.debug:
        args.append("--debug")
    return args


def run_project(flow: FlowContext, options: dict[str, Any]) -> ProjectInfo | None:
    """The ``@project`` branch of a ``run``/``resume`` (``--branch``/``--production``
    before or after the command), also bound to ``current`` in this process, as
    Metaflow does: a parameter's default function may read ``current.project_name``."""
    from grange.current import current

    project = flow.project(
        branch=options.get("run_branch"), production=bool(options.get("run_production"))
    )
    if project is not None:
        current._bind(**project.current_facts())
    return project


def build_request(
    flow: FlowContext,
    options: dict[str, Any],
    *,
    project: ProjectInfo | None,
    parameters: dict[str, Any],
    resume: bool,
    origin_run_id: str | None = None,
    resume_step: str | None = None,
    trigger: list[dict[str, Any]] | None = None,
) -> RunRequest:
    from grange.cli.policy import enforce_run_policy, profile_env
    from grange.cli.project import branch_args
    from grange.runtime import RunRequest

    profile = effective(flow.settings)
    root = datastore_root(flow.settings)
    url = metadata_url(flow.settings)
    tags = tuple(options.get("tags") or ())
    decospecs = (*flow.settings.with_decorators, *(options.get("with_decorators") or ()))
    branch = options.get("run_branch") or flow.settings.branch
    production = bool(options.get("run_production")) or flow.settings.production
    # Before anything is registered: a refused run leaves nothing behind.
    enforce_run_policy(
        flow,
        profile,
        root=str(root),
        tags=tags,
        decospecs=decospecs,
        production=project is not None and project.is_production,
    )
    os.environ.update(profile_env(profile))  # tasks work under the same profile
    if project is not None:  # as Metaflow says it when a run starts
        flow.say(f"Project: {project.project_name}, branch: {project.branch_name}")
    return RunRequest(
        flow_cls=flow.flow_cls,
        flow_file=flow.flow_file,
        datastore_root=root,
        metadata_url=url,
        user=current_username(),
        events=profile.events,
        namespace=options.get("run_namespace") or flow.settings.namespace,
        project=project,
        tags=tags,
        parameters=parameters,
        max_workers=options["max_workers"],
        max_num_splits=options["max_num_splits"],
        run_id_file=options.get("run_id_file"),
        fork=not options.get("no_fork") and hasattr(os, "fork") and sys.platform != "win32",
        quiet=flow.settings.quiet,
        top_level_args=[
            *top_level_args(flow.settings, root, url),
            *branch_args(branch, production),
        ],
        resume=resume,
        origin_run_id=origin_run_id,
        resume_step=resume_step,
        force=bool(options.get("force")),
        decospecs=decospecs,
        live=sys.stdout.isatty() and not os.environ.get("GRANGE_PLAIN_OUTPUT"),
        package_suffixes=flow.settings.package_suffixes,
        trigger=trigger,
    )
