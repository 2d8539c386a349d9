"""Where an attempt's cards are stored, beside its record.

Under ``<flow>/<run>/<step>/<task>/<attempt>/cards/``, each card (its *slot*,
``<index>-<type>[-<id>]``) has up to three files::

    <slot>.data.json  the latest live document (overwritten on each refresh)
    <slot>.html       the final page
    <slot>.json       its meta, written last: the card exists once it does

The meta holds the page's sha256 and size, checked when the page is read: a
damaged card is an error naming it. Everything goes through the
:class:`~grange.datastore.backend.BlobStore` API (local disk, S3).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from grange.datastore.backend import BlobStore
from grange.datastore.records import TaskPaths
from grange.exceptions import BlobNotFound, DatastoreError

CARDS_DIR = "cards"
META_VERSION = 1
SLOT = re.compile(r"^(?P<index>\d+)-(?P<type>[a-z0-9_]+)(?:-(?P<id>[A-Za-z0-9_]+))?$")
CardStatus = Literal["ok", "error", "timeout"]


def card_slot(index: int, card_type: str, card_id: str | None = None) -> str:
    """``<index>-<type>`` or ``<index>-<type>-<id>``."""
    slot = f"{index}-{card_type}" + (f"-{card_id}" if card_id else "")
    if not SLOT.match(slot):
        raise ValueError(f"not a card slot: {slot!r}")
    return slot


def parse_slot(slot: str) -> tuple[int, str, str | None]:
    """``(index, type, id)`` of a slot; ValueError for anything else."""
    found = SLOT.match(slot)
    if found is None:
        raise ValueError(f"not a card slot: {slot!r}")
    return int(found["index"]), found["type"], found["id"]


def cards_prefix(paths: TaskPaths) -> str:
    return f"{paths.prefix}/{CARDS_DIR}"


def html_key(paths: TaskPaths, slot: str) -> str:
    return f"{cards_prefix(paths)}/{slot}.html"


def meta_key(paths: TaskPaths, slot: str) -> str:
    return f"{cards_prefix(paths)}/{slot}.json"


def data_key(paths: TaskPaths, slot: str) -> str:
    return f"{cards_prefix(paths)}/{slot}.data.json"


@dataclass(frozen=True)
class CardMeta:
    """What ``<slot>.json`` says of a final card."""

    type: str
    id: str | None
    index: int
    created_at: float
    status: CardStatus
    sha256: str
    size: int
    render_seconds: float
    final: bool = True
    version: int = META_VERSION

    @property
    def slot(self) -> str:
        return card_slot(self.index, self.type, self.id)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> CardMeta:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("version") != META_VERSION:
            raise ValueError("not a card meta of version 1")
        return cls(
            type=str(raw["type"]),
            id=None if raw.get("id") is None else str(raw["id"]),
            index=int(raw["index"]),
            created_at=float(raw["created_at"]),
            status=raw["status"],
            sha256=str(raw["sha256"]),
            size=int(raw["size"]),
            render_seconds=float(raw["render_seconds"]),
            final=bool(raw.get("final", True)),
        )


@dataclass(frozen=True)
class StoredCard:
    """A card found in an attempt's folder: its meta once final, and whether live data exists."""

    slot: str
    meta: CardMeta | None
    has_data: bool
    damaged: DatastoreError | None = None  # its meta cannot be read: why


def write_live_data(blobs: BlobStore, paths: TaskPaths, slot: str, data: bytes) -> None:
    """Store (overwrite) the card's latest live document."""
    blobs.put_bytes(data_key(paths, slot), data, overwrite=True)


def write_card(
    blobs: BlobStore,
    paths: TaskPaths,
    slot: str,
    html: bytes,
    *,
    status: CardStatus,
    created_at: float,
    render_seconds: float,
) -> CardMeta:
    """Store the card's final page, then its meta (last: the card exists once it does)."""
    index, card_type, card_id = parse_slot(slot)
    meta = CardMeta(
        type=card_type,
        id=card_id,
        index=index,
        created_at=created_at,
        status=status,
        sha256=hashlib.sha256(html).hexdigest(),
        size=len(html),
        render_seconds=round(render_seconds, 4),
    )
    blobs.put_bytes(html_key(paths, slot), html, overwrite=True)
    blobs.put_bytes(meta_key(paths, slot), meta.to_json(), overwrite=True)
    return meta


def list_cards(blobs: BlobStore, paths: TaskPaths) -> list[StoredCard]:
    """The attempt's cards (final or live), by index."""
    prefix = cards_prefix(paths) + "/"
    metas: set[str] = set()
    datas: set[str] = set()
    for key in blobs.list(cards_prefix(paths)):
        name = key[len(prefix) :]
        if name.endswith(".data.json"):
            datas.add(name[: -len(".data.json")])
        elif name.endswith(".json"):
            metas.add(name[: -len(".json")])
    found = []
    for slot in metas | datas:
        if not SLOT.match(slot):
            continue
        try:
            meta = read_meta(blobs, paths, slot) if slot in metas else None
        except DatastoreError as err:  # listed as damaged: the other cards stay readable
            found.append(StoredCard(slot, None, slot in datas, damaged=err))
            continue
        found.append(StoredCard(slot, meta, slot in datas))
    return sorted(found, key=lambda c: (parse_slot(c.slot)[0], c.slot))


def read_meta(blobs: BlobStore, paths: TaskPaths, slot: str) -> CardMeta | None:
    key = meta_key(paths, slot)
    try:
        data = blobs.get_bytes(key)
    except BlobNotFound:
        return None
    try:
        return CardMeta.from_json(data)
    except (ValueError, KeyError, TypeError) as err:
        raise _damaged(blobs, paths, slot, key, f"its meta cannot be read ({err})") from None


def read_card_html(blobs: BlobStore, paths: TaskPaths, meta: CardMeta) -> bytes:
    """The final page, checked against the sha256 its meta recorded."""
    key = html_key(paths, meta.slot)
    try:
        html = blobs.get_bytes(key)
    except BlobNotFound:
        raise _damaged(blobs, paths, meta.slot, key, "its page is missing") from None
    if len(html) != meta.size or hashlib.sha256(html).hexdigest() != meta.sha256:
        raise _damaged(
            blobs, paths, meta.slot, key, "its page does not match the sha256 recorded with it"
        )
    return html


def read_live_data(blobs: BlobStore, paths: TaskPaths, slot: str) -> dict[str, Any] | None:
    """The card's latest live document, or None if none was stored."""
    key = data_key(paths, slot)
    try:
        data = blobs.get_bytes(key)
    except BlobNotFound:
        return None
    try:
        doc = json.loads(data)
    except ValueError as err:
        raise _damaged(blobs, paths, slot, key, f"its live data is not JSON ({err})") from None
    if not isinstance(doc, dict):
        raise _damaged(blobs, paths, slot, key, "its live data is not a card document")
    return doc


def _damaged(blobs: BlobStore, paths: TaskPaths, slot: str, key: str, why: str) -> DatastoreError:
    return DatastoreError(
        f"card {slot} of task {paths.task_prefix} (attempt {paths.attempt}) is damaged: "
        f"{why} ({blobs.url(key)})",
        step=paths.step,
        fix="the card's files were changed or cut short after the task wrote them, and "
        "the card cannot be repaired; the task's artifacts are unaffected. Run the flow "
        "again to make a new card",
    )
