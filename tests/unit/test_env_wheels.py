"""A lock's packages in the datastore: stored once (checked against the lock's
sha256), fetched into a folder for uv (checked again), damage named."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from grange.datastore import DatastoreLocation
from grange.environments.envlock import EnvLock
from grange.environments.wheels import fetch_packages, local_lock, package_key, store_packages
from grange.exceptions import EnvError

BASE = "https://files.example/packages/"


def wheel_lock(contents: dict[str, bytes] | None = None) -> tuple[EnvLock, dict[str, bytes]]:
    """A pylock.toml of two packages (one wheel each) and what their URLs serve."""
    contents = contents or {
        "a-1.0-py3-none-any.whl": b"wheel a",
        "b_x-2.0-py3-none-any.whl": b"wheel b",
    }
    text = 'lock-version = "1.0"\ncreated-by = "uv"\n'
    packages = []
    for name, data in contents.items():
        url = BASE + name.replace("_", "%5F")  # quoted in the URL, plain on disk
        sha = hashlib.sha256(data).hexdigest()
        project, version = name.split("-")[:2]
        text += (
            f'\n[[packages]]\nname = "{project}"\nversion = "{version}"\n'
            f'sdist = {{ url = "{BASE}{project}-{version}.tar.gz", hashes = {{ sha256 = "{"0" * 64}" }} }}\n'
            f'wheels = [{{ url = "{url}", size = {len(data)}, hashes = {{ sha256 = "{sha}" }} }}]\n'
        )
        packages.append({"name": project, "version": version, "url": url, "sha256": sha})
    lock = EnvLock("pypi", "k" * 64, "3.11.7", "x86_64-manylinux_2_28", text, "uv", tuple(packages))
    return lock, {BASE + n.replace("_", "%5F"): d for n, d in contents.items()}


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return DatastoreLocation.of(tmp_path / "store").open()
    bucket = request.getfixturevalue("s3_bucket")
    return DatastoreLocation.of(f"s3://{bucket}/grange").open()


def test_stored_once_and_fetched(store: Any, tmp_path: Path) -> None:
    lock, served = wheel_lock()
    downloads: list[str] = []

    def download(url: str) -> bytes:
        downloads.append(url)
        return served[url]

    keys = store_packages(store, lock, download=download)
    sha_a = lock.packages[0]["sha256"]
    assert keys[0] == package_key(sha_a, "a-1.0-py3-none-any.whl") == f"envs/packages/{sha_a}/a-1.0-py3-none-any.whl"  # fmt: skip
    assert len(downloads) == 2
    assert store_packages(store, lock, download=download) == keys
    assert len(downloads) == 2  # there already: not downloaded again
    folder = fetch_packages(store, lock, tmp_path / "w")
    assert (folder / "b_x-2.0-py3-none-any.whl").read_bytes() == b"wheel b"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_download_that_is_not_the_locks_file_is_refused(store: Any) -> None:
    lock, _ = wheel_lock()
    with pytest.raises(EnvError, match=r"package 'a' downloaded from .* has sha256 \w+, the lock"):
        store_packages(store, lock, download=lambda url: b"something else")
    assert not store.exists(package_key(lock.packages[0]["sha256"], "a-1.0-py3-none-any.whl"))


def test_a_damaged_or_missing_package_is_named(store: Any, tmp_path: Path) -> None:
    lock, served = wheel_lock()
    with pytest.raises(EnvError, match=r"package 'a' \(a-1.0-py3-none-any.whl\) .* is not in"):
        fetch_packages(store, lock, tmp_path / "w")
    store_packages(store, lock, download=served.__getitem__)
    key = package_key(lock.packages[1]["sha256"], "b_x-2.0-py3-none-any.whl")
    store.put_bytes(key, b"rotten", overwrite=True)
    with pytest.raises(EnvError, match=r"package 'b_x' in the datastore .* is damaged") as info:
        fetch_packages(store, lock, tmp_path / "w")
    assert "delete it" in (info.value.fix or "")
    assert not (tmp_path / "w" / "b_x-2.0-py3-none-any.whl").exists()


def test_a_package_without_url_or_hash_cannot_be_stored(store: Any) -> None:
    lock = EnvLock("conda", "k", "3.11.7", "p", "t", "uv", ({"name": "x", "version": "1"},))
    with pytest.raises(EnvError, match="gives no url and sha256 for package 'x'"):
        store_packages(store, lock, download=lambda u: b"")
    text = '[[packages]]\nname = "y"\nversion = "1"\nwheels = [{ url = "https://x/y.whl" }]\n'
    lock = EnvLock("pypi", "k", "3.11.7", "p", text, "uv")
    with pytest.raises(EnvError, match="gives no url and sha256 for package 'y'"):
        store_packages(store, lock, download=lambda u: b"")


def test_the_local_lock_installs_from_the_fetched_files(tmp_path: Path) -> None:
    lock, _ = wheel_lock()
    local = local_lock(lock, tmp_path)
    assert f'path = "{tmp_path}/a-1.0-py3-none-any.whl"' in local.text
    assert f'path = "{tmp_path}/b_x-2.0-py3-none-any.whl"' in local.text
    assert "%5F" not in local.text and f'url = "{BASE}a-1.0.tar.gz"' in local.text  # sdists
    assert (local.python, local.packages) == (lock.python, lock.packages)


def test_a_download_error_is_named(store: Any) -> None:
    lock, _ = wheel_lock()

    def fail(url: str) -> bytes:
        raise OSError("Connection refused")

    with pytest.raises(EnvError, match=r"cannot download package 'a' .*Connection refused"):
        store_packages(store, lock, download=fail)
