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
        store_packages(store, lock, download=fail, sleep=lambda s: None)


def local_store(tmp_path: Path) -> Any:
    return DatastoreLocation.of(tmp_path / "store").open()


def test_a_cut_download_is_tried_again_then_named(tmp_path: Path) -> None:
    """A truncated response (http.client.IncompleteRead) is tried again, 3 times in
    all with a growing wait; the last failure is one EnvError, never a traceback."""
    import http.client

    lock, served = wheel_lock()
    store = local_store(tmp_path)
    cuts = {"n": 0}
    waits: list[float] = []

    def flaky(url: str) -> Any:
        if cuts["n"] < 2:
            cuts["n"] += 1
            yield b"wh"
            raise http.client.IncompleteRead(b"wh", 5)
        yield served[url]

    store_packages(store, lock, download=flaky, sleep=waits.append)
    assert waits == [1.0, 2.0]
    assert fetch_packages(store, lock, tmp_path / "w")  # the stored bytes are whole

    def cut(url: str) -> bytes:
        raise http.client.IncompleteRead(b"x" * 100, 35152)

    lock2, _ = wheel_lock({"c-1.0-py3-none-any.whl": b"wheel c"})
    with pytest.raises(EnvError, match=r"tried 3 times\): the download was cut short \(100 bytes"):
        store_packages(store, lock2, download=cut, sleep=lambda s: None)


def test_a_missing_file_on_the_index_is_not_tried_again(tmp_path: Path) -> None:
    import urllib.error

    lock, _ = wheel_lock()
    waits: list[float] = []

    def gone(url: str) -> bytes:
        raise urllib.error.HTTPError(url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    with pytest.raises(EnvError, match=r"cannot download package 'a' .* from \S+: Not Found"):
        store_packages(local_store(tmp_path), lock, download=gone, sleep=waits.append)
    assert waits == []


def test_a_damaged_file_in_the_nodes_folder_is_replaced(tmp_path: Path) -> None:
    lock, served = wheel_lock()
    store = local_store(tmp_path)
    store_packages(store, lock, download=served.__getitem__)
    folder = fetch_packages(store, lock, tmp_path / "w")
    (folder / "a-1.0-py3-none-any.whl").write_bytes(b"half a wh")  # a node's disk went bad
    fetch_packages(store, lock, folder)
    assert (folder / "a-1.0-py3-none-any.whl").read_bytes() == b"wheel a"


def test_an_unwritable_packages_folder_is_one_error(tmp_path: Path) -> None:
    lock, served = wheel_lock()
    store = local_store(tmp_path)
    store_packages(store, lock, download=served.__getitem__)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(EnvError, match=r"cannot write the packages of the lock \w+ into") as info:
        fetch_packages(store, lock, tmp_path / "file" / "w")
    assert "GRANGE_ENV_CACHE" in (info.value.fix or "")


def test_a_response_shorter_than_its_content_length_is_cut(tmp_path: Path) -> None:
    """The real downloader: a server closing the connection before Content-Length."""
    import socket
    import threading

    from grange.environments import wheels

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/a-1.0-py3-none-any.whl"
    with pytest.raises(OSError, match=r"cut short \(100 of 5000 bytes read\)"):
        b"".join(wheels._download(url))
    server.close()


def test_a_package_with_only_a_source_archive_is_refused_before_downloading(
    tmp_path: Path,
) -> None:
    """Pods installing from the datastore have no index: an sdist could not be built."""
    text = (
        '[[packages]]\nname = "docopt"\nversion = "0.6.2"\n'
        'sdist = { url = "https://x/docopt-0.6.2.tar.gz", hashes = { sha256 = "'
        + "1" * 64
        + '" } }\n'
    )
    lock = EnvLock("pypi", "k", "3.11.7", "p", text, "uv")
    asked: list[str] = []
    with pytest.raises(
        EnvError, match=r"no wheel for docopt 0.6.2 \(only a source archive\)"
    ) as info:
        store_packages(local_store(tmp_path), lock, download=lambda u: asked.append(u) or b"")
    assert "pin a version" in (info.value.fix or "") and "wheels_in_datastore = false" in (
        info.value.fix or ""
    )
    assert asked == []
