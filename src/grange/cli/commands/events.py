"""``grange events publish|list``: send an event by hand, and see the events received.

``publish`` sends where ``Event(...).publish()`` would (``--url``, else
``GRANGE_EVENTS_URL`` / the profile's ``[events] url``, else the metadata
database of the store chosen here: ``--datastore-root`` / ``--metadata`` /
the profile, as ``grange runs``). ``list`` reads that database (or, with
``--url``, a ``grange scheduler``'s ``GET /events``), newest first.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grange.cli.context import Settings, store_settings
from grange.cli.options import store_options
from grange.cli.reading import table
from grange.exceptions import CommandError

if TYPE_CHECKING:
    from grange.events.settings import EventSettings
    from grange.events.store import EventStore

DEFAULT_LIMIT = 20
_PAYLOAD_SHOWN = 60
_OWN_FIELDS = ("name", "id", "timestamp")


@click.group(short_help="Publish events and list the events received.")
def events() -> None:
    """Events start the flows deployed with @trigger / @trigger_on_finish: see docs/events.md."""


@events.command(
    short_help="Publish an event.",
    help="Publish the event NAME with a payload: to --url, else GRANGE_EVENTS_URL or the "
    "profile's [events] url (a grange scheduler or an Argo Events webhook), else into the "
    "metadata database of this store, where 'grange scheduler' reads it. Prints the "
    "event's id. An id is recorded once: publishing the same event again with --id "
    "records nothing new, and an id used already by another event is an error.",
)
@click.argument("name")
@click.option(
    "--payload",
    "fields",
    multiple=True,
    metavar="KEY=VALUE",
    help="A payload field, as a string (repeatable); it overrides --payload-file.",
)
@click.option(
    "--payload-file",
    metavar="FILE",
    help="A JSON object of payload fields (typed values); '-' reads standard input.",
)
@click.option("--id", "event_id", metavar="ID", help="The event's id [default: a new UUID].")
@click.option("--url", metavar="URL", help="POST the event to this endpoint.")
@store_options
@click.pass_context
def publish(
    ctx: click.Context,
    name: str,
    fields: tuple[str, ...],
    payload_file: str | None,
    event_id: str | None,
    url: str | None,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Publish one event."""
    from grange.events.model import EventRecord
    from grange.events.publish import deliver

    settings = store_settings(datastore, datastore_root, metadata)
    payload = {**_payload_file(payload_file), **_fields(fields)}
    record = EventRecord.new(name, payload, source="cli", event_id=event_id)
    chosen = _event_settings(settings)
    store = None if url or chosen.url else _store(settings)
    done = deliver(record, url=url, settings=chosen, store=store)
    if not settings.quiet:
        if done.duplicate:
            click.echo(
                f"Event {name} with id {record.event_id} was published already: "
                f"{done.where} holds it once (nothing was recorded again).",
                err=True,
            )
        else:
            click.echo(f"Published event {name} to {done.where}.", err=True)
    click.echo(record.event_id)


@events.command(
    "list",
    short_help="List the latest events received.",
    help="List the latest events recorded in the metadata database of this store (or, "
    "with --url, received by a grange scheduler), newest first: time, name, id, source, "
    "user and payload.",
)
@click.option("--name", metavar="NAME", help="Only events of this name.")
@click.option(
    "--limit",
    type=click.IntRange(min=1, max=1000),
    default=DEFAULT_LIMIT,
    show_default=True,
    metavar="N",
    help="Show at most N events.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, payloads whole.")
@click.option("--url", metavar="URL", help="Read the events of this endpoint (GET URL).")
@store_options
@click.pass_context
def list_command(
    ctx: click.Context,
    name: str | None,
    limit: int,
    as_json: bool,
    url: str | None,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Print the events."""
    settings = store_settings(datastore, datastore_root, metadata)
    if url:
        found = _remote(url, name, limit, _event_settings(settings).token)
        where = url
    else:
        store = _store(settings, create=False)
        found = [event.to_dict() for event in store.list(name, limit=limit)]
        where = "the metadata database"
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    if not found:
        what = f" named {name}" if name else ""
        click.echo(f"No events{what} in {where}.", err=True)
        return
    rows = [["TIME", "NAME", "ID", "SOURCE", "USER", "PAYLOAD"]]
    rows += [_row(event) for event in found]
    click.echo(table(rows))


def _event_settings(settings: Settings) -> EventSettings:
    from grange.cli.runtime_options import effective
    from grange.events.settings import EventSettings

    return EventSettings.read(effective(settings).events)


def _store(settings: Settings, *, create: bool = True) -> EventStore:
    from grange.events.store import open_event_store

    return open_event_store(
        settings.profile,
        datastore=settings.datastore,
        datastore_root=settings.datastore_root,
        metadata=settings.metadata,
        create=create,
    )


def _fields(fields: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for text in fields:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise CommandError(
                f"--payload {text!r}: expected KEY=VALUE",
                fix="e.g. --payload date=2024-06-01 (use --payload-file for numbers, lists, ...)",
            )
        out[key.strip()] = value
    return out


def _payload_file(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as err:
        raise CommandError(
            f"--payload-file {path}: cannot read it ({err.strerror or err})",
            fix="name a readable JSON file, or '-' for standard input",
        ) from None
    try:
        document = json.loads(text)
    except ValueError as err:
        raise CommandError(
            f"--payload-file {path}: not JSON ({err})", fix='write a JSON object: {"key": value}'
        ) from None
    if not isinstance(document, dict):
        raise CommandError(
            f"--payload-file {path}: a JSON {type(document).__name__}, not an object",
            fix='write a JSON object: {"key": value}',
        )
    return document


def _remote(url: str, name: str | None, limit: int, token: str | None) -> list[dict[str, Any]]:
    from urllib.parse import urlencode

    from grange.events.webhook import request

    query = urlencode({k: v for k, v in (("name", name), ("limit", limit)) if v})
    answer = json.loads(request("GET", f"{url}?{query}", token=token, tries=1) or b"{}")
    listed = answer.get("events") if isinstance(answer, dict) else None
    if not isinstance(listed, list):
        raise CommandError(
            f"{url} did not answer with a list of events",
            fix="give the URL of a grange scheduler's events: http://HOST:PORT/events",
        )
    return listed


def _when(value: Any) -> str:
    """A stored timestamp as local time, or as stored when it is no time at all."""
    try:
        return datetime.fromtimestamp(float(value)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value) if value not in (None, "") else "-"


def _row(event: dict[str, Any]) -> list[str]:
    payload = {k: v for k, v in (event.get("payload") or {}).items() if k not in _OWN_FIELDS}
    shown = json.dumps(payload, sort_keys=True) if payload else "-"
    if len(shown) > _PAYLOAD_SHOWN:
        shown = shown[: _PAYLOAD_SHOWN - 3] + "..."
    return [
        _when(event.get("timestamp")),
        str(event.get("name")),
        str(event.get("id")),
        str(event.get("source") or "-"),
        str(event.get("user") or "-"),
        shown,
    ]
