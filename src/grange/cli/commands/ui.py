"""``grange ui``: the web UI over every run of a store (see docs/ui.md).

Reads the store the other commands would (``--datastore-root`` /
``--metadata`` / the profile, else the nearest ``.grange/``); listens on
127.0.0.1:8323 unless told otherwise; anything but loopback needs a token.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace

import click

from grange.cli.context import store_settings
from grange.cli.options import store_options


@click.command(
    short_help="Serve the web UI over every run of this store.",
    help="Serve the web UI (flows, runs, DAGs, timelines, logs, artifacts, cards; live) over "
    "the runs of this store: --datastore-root / --metadata / the profile, else the nearest "
    ".grange/. Listens on 127.0.0.1 unless --host says otherwise, which needs a token "
    "(--token TOKEN, --token generate, GRANGE_UI_TOKEN or the profile's [ui] token). "
    "Stop it with Ctrl-C.",
)
@click.option("--host", metavar="ADDRESS", help="Listen on this address [default: 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Listen on this port [default: 8323].",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="Every request must carry this token; 'generate' makes a new one and prints it.",
)
@click.option("--profile", "ui_profile", metavar="NAME", help="Read the stores of this profile.")
@store_options
def ui(
    host: str | None,
    port: int | None,
    token: str | None,
    ui_profile: str | None,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Serve until interrupted."""
    from grange.cli.reading import connect
    from grange.cli.runtime_options import effective
    from grange.client.config import current_stores
    from grange.metastore.urls import mask_url
    from grange.ui.serve import bind, serve_forever
    from grange.ui.settings import read_settings

    settings = store_settings(datastore, datastore_root, metadata)
    if ui_profile:
        settings = replace(settings, profile=ui_profile)
    profile = effective(settings)
    chosen, generated = read_settings(profile.ui, os.environ, host=host, port=port, token=token)
    connect(settings, every_namespace=True)
    stores = current_stores()
    sock = bind(chosen.host, chosen.port)
    chosen = replace(chosen, port=sock.getsockname()[1])
    where = mask_url(stores.describe())
    address = chosen.url("/")
    if chosen.token is not None:
        address += f"?token={chosen.token}" if generated else "?token=TOKEN"
    click.echo(f"grange ui: {where}", err=True)
    if generated:
        click.echo(f"grange ui: a new token was made for this server: {chosen.token}", err=True)
    writes = "tags can be edited" if chosen.writes else "read-only"
    click.echo(f"grange ui: {address} ({writes}; Ctrl-C stops it)", err=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops, then raises Ctrl-C again
        serve_forever(stores, chosen, sock)
    click.echo("grange ui: stopped", err=True)
