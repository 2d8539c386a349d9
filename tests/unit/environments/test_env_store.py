"""Locks in the datastore: content-addressed, write-once, checked on load."""

from __future__ import annotations

import json
import re

import pytest

from grange.datastore.backend import MemoryBlobStore
from grange.environments import manager
from grange.environments.envlock import EnvLock
from grange.exceptions import EnvError

LOCK = EnvLock(
    kind="pypi",
    key="k" * 64,
    python="3.11.7",
    platform="x86_64-manylinux_2_28",
    text='lock-version = "1.0"\n',
    tool="uv 0.13.9",
    packages=({"name": "tabulate", "version": "0.9.0"},),
    requested={"packages": {"tabulate": "0.9.0"}},
)


def test_store_and_load() -> None:
    blobs = MemoryBlobStore()
    key = manager.store_lock(blobs, LOCK)
    assert key == f"envs/locks/{LOCK.sha}.json"
    assert manager.load_lock(blobs, key) == LOCK
    assert manager.store_lock(blobs, LOCK) == key  # once: the second is a no-op
    assert blobs.list("envs") == [key]


def test_a_missing_lock_says_so() -> None:
    with pytest.raises(EnvError, match="is missing") as caught:
        manager.load_lock(MemoryBlobStore(), f"envs/locks/{'0' * 64}.json")
    assert caught.value.fix and "run the flow again" in caught.value.fix


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"{not json", "is damaged (not JSON"),
        (b'{"type": "pypi"}', "is not a grange environment lock"),
        (json.dumps({**LOCK.to_dict(), "text": "changed"}).encode(), "is damaged"),
    ],
)
def test_a_damaged_lock_says_so(data: bytes, said: str) -> None:
    blobs = MemoryBlobStore()
    key = f"envs/locks/{LOCK.sha}.json"
    blobs.put_bytes(key, data)
    with pytest.raises(EnvError, match=re.escape(said)):
        manager.load_lock(blobs, key)


def test_a_lock_under_another_sha_is_damaged() -> None:
    blobs = MemoryBlobStore()
    other = f"envs/locks/{'1' * 64}.json"
    blobs.put_bytes(other, json.dumps(LOCK.to_dict()).encode())
    with pytest.raises(EnvError, match=f"holds the lock {LOCK.sha}"):
        manager.load_lock(blobs, other)


@pytest.mark.parametrize(
    "edit",
    [
        {"python": "3.10.0"},
        {"key": "e" * 64},
        {"platform": "linux-aarch64"},
        {"type": "conda"},
        {"packages": [{"name": "tabulate", "version": "0.8.0"}]},
        {"record_sha": None},
    ],
)
def test_an_edited_record_is_damaged(edit: dict[str, object]) -> None:
    blobs = MemoryBlobStore()
    key = f"envs/locks/{LOCK.sha}.json"
    blobs.put_bytes(key, json.dumps({**LOCK.to_dict(), **edit}).encode())
    with pytest.raises(EnvError, match="is damaged"):
        manager.load_lock(blobs, key)


def test_what_was_asked_is_not_covered() -> None:
    blobs = MemoryBlobStore()
    key = f"envs/locks/{LOCK.sha}.json"
    blobs.put_bytes(key, json.dumps({**LOCK.to_dict(), "requested": {"x": 1}}).encode())
    assert manager.load_lock(blobs, key).requested == {"x": 1}
