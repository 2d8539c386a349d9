"""``grange deployments list|delete|pause|resume|trigger``: the flows the local scheduler runs.

Deployments live in the metadata database the runs use (``--datastore-root`` /
``--metadata`` / the profile, else the nearest ``.grange/``), so these
commands, ``python flow.py deploy`` and ``grange scheduler`` must point at the
same store. They only change the table: a running ``grange scheduler`` sees
the change on its next pass.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

import click

from grange.cli.context import Settings, store_settings
from grange.cli.errors import GuardedGroup
from grange.cli.options import store_options

if TYPE_CHECKING:
    from grange.events.deployments import Deployment
    from grange.metastore import MetadataStore


def open_store(settings: Settings) -> tuple[MetadataStore, str]:
    """The metadata database of the command line's store, and its URL (the local
    SQLite index under the datastore root unless ``--metadata`` says otherwise)."""
    from grange.cli.runtime_options import datastore_root, metadata_url
    from grange.metastore import MetadataStore, sqlite_url

    root = datastore_root(settings)
    url = metadata_url(settings)
    if url in (None, "", "local"):
        from grange.reindex import open_local_index

        index = root.make_index_dir() if not root.is_local else root.path
        index.mkdir(parents=True, exist_ok=True)
        return open_local_index(index, root.open()), sqlite_url(index)
    return MetadataStore.from_url(url), url


def when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


@click.group("deployments", cls=GuardedGroup,
             help="List and manage the flows deployed to the local scheduler "
             "(`python flow.py deploy`; `grange scheduler` runs them).")  # fmt: skip
def deployments() -> None:
    pass


@deployments.command("list", help="List the deployments: schedule and next run, triggers, "
                     "paused, last run and its status.")  # fmt: skip
@store_options
def list_command(datastore: str | None, datastore_root: str | None, metadata: str | None) -> None:
    from grange.events.deployments import Deployments
    from grange.events.scheduler import state as st
    from grange.events.scheduler.cron import next_tick

    store, url = open_store(store_settings(datastore, datastore_root, metadata))
    found = Deployments(store).list()
    if not found:
        click.echo(f"No deployments in {url}. Add one with: python FLOW_FILE deploy", err=True)
        return
    state = st.SchedulerState(store)
    now = time.time()
    rows = [("NAME", "FLOW", "SCHEDULE", "NEXT RUN", "TRIGGERS", "PAUSED", "LAST RUN")]
    for d in found:
        spec = d.spec
        schedule, upcoming = "-", "-"
        if spec.schedule is not None:
            schedule = spec.schedule.cron + (f" {spec.schedule.timezone}" if spec.schedule.timezone
                                             else "")  # fmt: skip
            cursor = (state.value(d.name, st.CRON) or {}).get("cursor")
            base = max(now, float(cursor)) if cursor is not None else now
            tick = next_tick(spec.schedule.cron, spec.schedule.timezone, base)
            upcoming = "paused" if d.paused else "never" if tick is None else when(tick)
        triggers = "-"
        if spec.triggers is not None:
            triggers = " & ".join(dep.name for dep in spec.triggers.dependencies)
        last = state.launches(deployment=d.name, limit=1)
        last_text = "-"
        if last:
            launch = last[0]
            run = f"{launch.flow}/{launch.run_id}" if launch.run_id else launch.launch_key
            last_text = f"{run} {launch.status} ({when(launch.created_at)})"
        rows.append((d.name, spec.flow, schedule, upcoming, triggers,
                     "yes" if d.paused else "no", last_text))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def _named(
    name: str, datastore: str | None, datastore_root: str | None, metadata: str | None
) -> tuple[MetadataStore, Deployment]:
    from grange.events.deployments import Deployments

    store, _ = open_store(store_settings(datastore, datastore_root, metadata))
    return store, Deployments(store).require(name)


@deployments.command("delete", help="Delete the deployment NAME and its scheduler state "
                     "(runs already started go on).")  # fmt: skip
@click.argument("name")
@store_options
def delete(name: str, datastore: str | None, datastore_root: str | None,
           metadata: str | None) -> None:  # fmt: skip
    from grange.events.deployments import Deployments

    store, deployment = _named(name, datastore, datastore_root, metadata)
    Deployments(store).delete(deployment.name)
    click.echo(f"Deleted the deployment {name}.", err=True)


@deployments.command("pause", help="Pause NAME: no run starts (cron ticks and events "
                     "that come meanwhile are not kept) until `resume`.")  # fmt: skip
@click.argument("name")
@store_options
def pause(name: str, datastore: str | None, datastore_root: str | None,
          metadata: str | None) -> None:  # fmt: skip
    from grange.events.deployments import Deployments

    store, deployment = _named(name, datastore, datastore_root, metadata)
    Deployments(store).set_paused(deployment.name, True, now=time.time())
    click.echo(f"Paused {name}. Resume it with: grange deployments resume {name}", err=True)


@deployments.command("resume", help="Resume the paused deployment NAME.")
@click.argument("name")
@store_options
def resume(name: str, datastore: str | None, datastore_root: str | None,
           metadata: str | None) -> None:  # fmt: skip
    from grange.events.deployments import Deployments

    store, deployment = _named(name, datastore, datastore_root, metadata)
    Deployments(store).set_paused(deployment.name, False, now=time.time())
    click.echo(f"Resumed {name}: it runs {deployment.spec.describe_when()}.", err=True)


@deployments.command("trigger", help="Ask the scheduler for a run of NAME now, with the "
                     "deployment's parameter values (it starts when `grange scheduler` runs).")  # fmt: skip
@click.argument("name")
@store_options
def trigger(name: str, datastore: str | None, datastore_root: str | None,
            metadata: str | None) -> None:  # fmt: skip
    from grange.events.scheduler.loop import manual_launch

    store, deployment = _named(name, datastore, datastore_root, metadata)
    key = manual_launch(store, deployment, now=time.time())
    click.echo(key)
    paused = " once the deployment is resumed" if deployment.paused else ""
    click.echo(f"A run of {name} is due ({key}); the scheduler starts it{paused}.", err=True)
