"""Card files beside an attempt's record: live data, page and meta (last), listing, and
the sha256 check that names a damaged card."""

from __future__ import annotations

import pytest

from grange.datastore import MemoryBlobStore, TaskPaths
from grange.datastore.cards import (
    card_slot,
    list_cards,
    parse_slot,
    read_card_html,
    read_live_data,
    write_card,
    write_live_data,
)
from grange.exceptions import DatastoreError

PATHS = TaskPaths("F", "1", "train", "4", 0)


def test_slots() -> None:
    assert card_slot(0, "default") == "0-default"
    assert card_slot(2, "blank", "my_id") == "2-blank-my_id"
    assert parse_slot("2-blank-my_id") == (2, "blank", "my_id")
    with pytest.raises(ValueError):
        parse_slot("x-default")
    with pytest.raises(ValueError):
        card_slot(0, "Bad-Type")


def test_live_then_final_cards_are_listed_in_order() -> None:
    blobs = MemoryBlobStore()
    write_live_data(blobs, PATHS, "1-blank-b", b'{"final": false}')
    write_live_data(blobs, PATHS, "1-blank-b", b'{"final": false, "n": 2}')  # overwritten
    write_card(blobs, PATHS, "0-default", b"<html>a</html>", status="ok", created_at=5.0,
               render_seconds=0.1)  # fmt: skip
    found = list_cards(blobs, PATHS)
    assert [(c.slot, c.meta is not None, c.has_data) for c in found] == [
        ("0-default", True, False),
        ("1-blank-b", False, True),
    ]
    assert read_live_data(blobs, PATHS, "1-blank-b") == {"final": False, "n": 2}
    meta = found[0].meta
    assert meta is not None and meta.size == 14 and meta.status == "ok"
    assert read_card_html(blobs, PATHS, meta) == b"<html>a</html>"
    keys = blobs.list("F/1/train/4/0/cards")
    assert keys == [
        "F/1/train/4/0/cards/0-default.html",
        "F/1/train/4/0/cards/0-default.json",
        "F/1/train/4/0/cards/1-blank-b.data.json",
    ]


def test_the_meta_is_written_after_the_page() -> None:
    order: list[str] = []

    class Recording(MemoryBlobStore):
        def put_chunks(self, key, chunks, *, overwrite=False):  # type: ignore[no-untyped-def]
            order.append(key.rsplit("/", 1)[1])
            return super().put_chunks(key, chunks, overwrite=overwrite)

    write_card(Recording(), PATHS, "0-default", b"x", status="ok", created_at=0, render_seconds=0)
    assert order == ["0-default.html", "0-default.json"]


def test_a_damaged_page_is_an_error_naming_the_card() -> None:
    blobs = MemoryBlobStore()
    meta = write_card(blobs, PATHS, "0-default", b"<html>a</html>", status="ok", created_at=0,
                      render_seconds=0)  # fmt: skip
    blobs.put_bytes("F/1/train/4/0/cards/0-default.html", b"<html>b</html>", overwrite=True)
    with pytest.raises(DatastoreError) as err:
        read_card_html(blobs, PATHS, meta)
    text = err.value.render()
    assert "card 0-default of task F/1/train/4 (attempt 0) is damaged" in text
    assert "sha256" in text and "step 'train'" in text and "Fix:" in text
    assert "the task's artifacts are unaffected" in text and "Run the flow again" in text


def test_a_damaged_meta_is_listed_as_damaged_beside_the_other_cards() -> None:
    blobs = MemoryBlobStore()
    for slot in ("0-default", "1-blank-b"):
        write_card(blobs, PATHS, slot, b"<html>a</html>", status="ok", created_at=0,
                   render_seconds=0)  # fmt: skip
    blobs.put_bytes("F/1/train/4/0/cards/0-default.json", b"{not json", overwrite=True)
    found = list_cards(blobs, PATHS)
    assert [(c.slot, c.meta is not None) for c in found] == [("0-default", False),
                                                             ("1-blank-b", True)]  # fmt: skip
    damaged = found[0].damaged
    assert damaged is not None and "its meta cannot be read" in damaged.message
    assert found[1].damaged is None
