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
    assert sorted(blobs.list("envs")) == [f"envs/keys/{LOCK.key}.json", key]


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


# -- the key index: envs/keys/<key>.json -> the lock stored for that key ---------------


def test_the_key_index_finds_the_first_lock_stored_for_a_key() -> None:
    blobs = MemoryBlobStore()
    assert manager.find_lock(blobs, LOCK.key) is None
    manager.store_lock(blobs, LOCK)
    later = EnvLock(**{**LOCK.__dict__, "text": 'lock-version = "1.0"\n# newer\n'})
    manager.store_lock(blobs, later)  # the same key resolved again elsewhere
    assert manager.find_lock(blobs, LOCK.key) == LOCK  # write-once: the first stays
    pointer = json.loads(blobs.get_bytes(f"envs/keys/{LOCK.key}.json"))
    assert pointer["lock"] == f"envs/locks/{LOCK.sha}.json" and pointer["sha"] == LOCK.sha


OTHER = EnvLock(**{**LOCK.__dict__, "key": "o" * 64, "text": "other\n"})


@pytest.mark.parametrize(
    "pointer",
    [
        b"{not json",
        json.dumps({"lock": "elsewhere.json", "sha": LOCK.sha}).encode(),
        # another key's lock (a pointer edited or copied by hand)
        json.dumps(
            {
                "lock": f"envs/locks/{OTHER.sha}.json",
                "sha": OTHER.sha,
                "record_sha": OTHER.record_sha,
            }
        ).encode(),
        json.dumps({"lock": f"envs/locks/{LOCK.sha}.json", "sha": "0" * 64}).encode(),
        json.dumps({"lock": f"envs/locks/{'2' * 64}.json", "sha": "2" * 64}).encode(),
    ],
    ids=["not-json", "no-lock", "another-key", "wrong-sha", "missing-lock"],
)
def test_a_tampered_key_index_entry_is_an_error_with_the_fix(pointer: bytes) -> None:
    blobs = MemoryBlobStore()
    manager.store_lock(blobs, LOCK)
    manager.store_lock(blobs, OTHER)
    blobs.put_bytes(f"envs/keys/{LOCK.key}.json", pointer, overwrite=True)
    with pytest.raises(EnvError, match=f"envs/keys/{LOCK.key}.json .*(damaged|cannot be used)"):
        manager.find_lock(blobs, LOCK.key)
    try:
        manager.find_lock(blobs, LOCK.key)
    except EnvError as err:
        assert err.fix and f"delete envs/keys/{LOCK.key}.json" in err.fix


def test_a_tampered_lock_behind_the_index_is_an_error() -> None:
    blobs = MemoryBlobStore()
    manager.store_lock(blobs, LOCK)
    edited = {**LOCK.to_dict(), "python": "3.12.1"}
    blobs.put_bytes(f"envs/locks/{LOCK.sha}.json", json.dumps(edited).encode(), overwrite=True)
    with pytest.raises(EnvError, match=r"cannot be used: .*damaged"):
        manager.find_lock(blobs, LOCK.key)
