"""``grange scheduler``: run the deployed flows of a store on their schedules and events.

In the foreground until Ctrl-C or SIGTERM (the runs it started go on; the
next scheduler follows them). ``--once`` works until nothing is due or
running, then exits (for tests and for a cron job that runs it). One
scheduler per metadata database: a second one is refused, naming the first.
See docs/events.md, "The local scheduler".
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from grange.cli.errors import GuardedCommand
from grange.cli.options import store_options
from grange.events.scheduler.service import DEFAULT_HOST, DEFAULT_PORT


def _setting(table: dict[str, object], key: str, env: str) -> str | None:
    value = os.environ.get(env) or table.get(key)
    return None if value in (None, "") else str(value)


@click.command(
    "scheduler",
    cls=GuardedCommand,
    short_help="Run deployed flows on their schedules and events.",
    help="Run the flows deployed with `python flow.py deploy` on this machine: on their "
    "@schedule and when the events of their @trigger/@trigger_on_finish arrive. Events are "
    "accepted over HTTP (POST /events) on loopback. Stops on Ctrl-C or SIGTERM; the runs it "
    "started go on and the next scheduler follows them.",
)
@click.option("--host", default=None, metavar="HOST",
              help=f"Serve events on this address [default: {DEFAULT_HOST}; another address "
              "needs --token].")  # fmt: skip
@click.option("--port", type=click.IntRange(min=0, max=65535), default=None,
              help=f"Serve events on this port (0: any free one) [default: {DEFAULT_PORT}].")  # fmt: skip
@click.option("--token", metavar="TOKEN", default=None,
              help="Require 'Authorization: Bearer TOKEN' on the endpoint "
              "[default: $GRANGE_SCHEDULER_TOKEN, else [scheduler] token].")  # fmt: skip
@click.option("--no-http", is_flag=True, help="Serve no endpoint (events then come through "
              "the database only).")  # fmt: skip
@click.option("--once", is_flag=True, help="Work until nothing is due or running, then exit.")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=None, metavar="SECONDS",
              help="How often the database is read for events and due runs [default: 1].")  # fmt: skip
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where the runs' logs and files go [default: ~/.cache/grange/scheduler/...].")  # fmt: skip
@store_options
@click.pass_context
def scheduler(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    token: str | None,
    no_http: bool,
    once: bool,
    poll_interval: float | None,
    workdir: str | None,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    from grange.cli.commands.deployments import open_store
    from grange.cli.context import store_settings
    from grange.cli.runtime_options import effective, metadata_url
    from grange.events.scheduler.clock import clock_from_env
    from grange.events.scheduler.service import Service, ServiceOptions, default_workdir

    settings = store_settings(datastore, datastore_root, metadata)
    profile = effective(settings)
    table = dict(profile.scheduler)
    unknown = sorted(set(table) - {"host", "port", "token", "poll_interval", "workdir"})
    if unknown:
        from grange.exceptions import ConfigError

        raise ConfigError(
            f"unknown key(s) in the profile's [scheduler] table: {', '.join(unknown)}",
            fix="the keys are host, port, token, poll_interval and workdir",
        )
    store, url = open_store(settings)
    os.environ.update(profile.child_env())  # the runs work under the same profile
    host = host or str(table.get("host") or DEFAULT_HOST)
    if port is None:
        port = int(str(table.get("port") or DEFAULT_PORT))
    given = metadata_url(settings)
    chosen = Path(workdir or str(table.get("workdir") or "") or default_workdir(url))
    options = ServiceOptions(
        workdir=chosen.expanduser().absolute(),  # the runs start in it: not relative to it
        metadata=None if given in (None, "", "local") else given,
        host=host,
        port=None if no_http else port,
        token=token or _setting(table, "token", "GRANGE_SCHEDULER_TOKEN"),
        poll_interval=poll_interval or float(str(table.get("poll_interval") or 1.0)),
        once=once,
    )

    def say(message: str) -> None:
        if not settings.quiet:
            from datetime import datetime

            stamp = datetime.now().strftime("%H:%M:%S")
            click.echo(f"{stamp} {message}", err=True)

    service = Service(store, options, clock_from_env(os.environ), say=say)

    def stop(signum: int, _frame: object) -> None:
        say("Stopping (runs already started go on; the next scheduler follows them).")
        service.request_stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        say(f"Scheduler on {_masked(url)} (pid {os.getpid()}); logs in {options.workdir}")
        service.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stderr.flush()


def _masked(url: str) -> str:
    from grange.metastore.urls import mask_url

    return mask_url(url)
