"""Code packages in a datastore: content-addressed, stored once, checked when read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from grange.datastore import DatastoreLocation, MemoryBlobStore
from grange.environments.package import (
    PackageInBackground,
    PackageRef,
    fetch_package,
    package_flow,
    package_key,
    read_package,
    split_url,
)
from grange.exceptions import DatastoreError


@pytest.fixture
def flow_file(tmp_path: Path) -> str:
    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / "flow.py"
    path.write_text("from grange import FlowSpec\n")
    return str(path)


@pytest.fixture
def location(tmp_path: Path) -> DatastoreLocation:
    return DatastoreLocation.of(tmp_path / "store")


def test_stored_under_its_sha256_and_fetched_back(
    flow_file: str, location: DatastoreLocation
) -> None:
    ref = package_flow(flow_file, location, "TrainFlow")
    key = package_key("TrainFlow", ref.sha)
    assert key == f"TrainFlow/data/{ref.sha[:2]}/{ref.sha}"
    assert ref.url == str(location.path / key) and os.path.isabs(ref.url)
    assert ref.flow_file == "flow.py" and ref.grange_version
    data = fetch_package(ref)
    assert hashlib.sha256(data).hexdigest() == ref.sha and len(data) == ref.size
    assert PackageRef.from_dict(ref.to_dict()) == ref


def test_written_only_when_absent(flow_file: str, location: DatastoreLocation) -> None:
    ref = package_flow(flow_file, location, "TrainFlow")
    before = os.stat(ref.url)
    assert package_flow(flow_file, location, "TrainFlow") == ref
    after = os.stat(ref.url)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_damaged_package_is_refused_then_replaced(
    flow_file: str, location: DatastoreLocation
) -> None:
    ref = package_flow(flow_file, location, "TrainFlow")
    good = Path(ref.url).read_bytes()
    Path(ref.url).write_bytes(good[:100] + b"X" + good[101:])
    with pytest.raises(DatastoreError, match="is damaged: its sha256 is") as info:
        fetch_package(ref)
    assert "run the flow again" in (info.value.fix or "")
    assert package_flow(flow_file, location, "TrainFlow") == ref  # stored anew
    assert fetch_package(ref) == good


def test_a_missing_package_says_where(flow_file: str, location: DatastoreLocation) -> None:
    ref = package_flow(flow_file, location, "TrainFlow")
    os.unlink(ref.url)
    with pytest.raises(DatastoreError, match=f"the code package {ref.url} does not exist"):
        fetch_package(ref)


def test_read_from_a_readers_own_store(flow_file: str, location: DatastoreLocation) -> None:
    ref = package_flow(flow_file, location, "TrainFlow")
    blobs = MemoryBlobStore()
    assert read_package(blobs, "TrainFlow", ref) is None
    blobs.put_bytes(package_key("TrainFlow", ref.sha), b"not it")
    with pytest.raises(DatastoreError, match="damaged"):
        read_package(blobs, "TrainFlow", ref)


def test_split_url() -> None:
    sha = "ab" * 32
    assert split_url(f"s3://bucket/team/grange/F/data/ab/{sha}") == (
        "s3://bucket/team/grange",
        f"F/data/ab/{sha}",
    )
    assert split_url(f"s3://bucket/F/data/ab/{sha}") == ("s3://bucket", f"F/data/ab/{sha}")
    with pytest.raises(DatastoreError, match="not the URL of a code package"):
        split_url("s3://bucket/x")


def test_in_background_a_directory_that_cannot_be_packed_is_a_notice(
    tmp_path: Path, location: DatastoreLocation
) -> None:
    packing = PackageInBackground(str(tmp_path / "gone.py"), "F", (), location)
    packing.store_in(location.open())
    ref, notes = packing.result()
    assert ref is None
    assert notes and notes[0].startswith("the run records no code package: the flow file")


def test_in_background_links_outside_are_named(
    flow_file: str, tmp_path: Path, location: DatastoreLocation
) -> None:
    (tmp_path / "shared.py").write_text("")
    os.symlink(tmp_path / "shared.py", Path(flow_file).parent / "shared.py")
    packing = PackageInBackground(flow_file, "F", (), location)
    packing.store_in(location.open())
    ref, notes = packing.result()
    assert ref is not None and fetch_package(ref)
    assert notes == [
        f"the code package leaves out shared.py: a link to {tmp_path / 'shared.py'}, "
        "outside the flow's directory"
    ]


def test_a_remote_copy_is_trusted_by_size_and_replaced_when_it_is_wrong(flow_file: str) -> None:
    from grange.environments.package import build_package, store_package

    remote = DatastoreLocation("s3://bucket/team")
    blobs = MemoryBlobStore()
    package = build_package(flow_file, "F")
    key = package_key("F", package.sha)
    blobs.put_bytes(key, b"truncated")
    ref = store_package(blobs, remote, "F", package)
    assert blobs.get_bytes(key) == package.data  # wrong size: replaced
    assert ref.url == blobs.url(key)
    same_size = bytes(len(package.data))
    blobs.put_bytes(key, same_size, overwrite=True)
    store_package(blobs, remote, "F", package)
    assert blobs.get_bytes(key) == same_size  # not read back: readers check the sha256
    with pytest.raises(DatastoreError, match="damaged"):
        read_package(blobs, "F", ref)


def test_a_store_that_cannot_be_written_is_named(
    flow_file: str, location: DatastoreLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from grange.datastore import LocalBlobStore
    from grange.exceptions import StoreFullError

    def full(self: object, key: str, chunks: object, *, overwrite: bool = False) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalBlobStore, "put_chunks", full)
    with pytest.raises(StoreFullError, match="the code package could not be saved"):
        package_flow(flow_file, location, "F")
    packing = PackageInBackground(flow_file, "F", (), location)
    packing.store_in(location.open())
    ref, notes = packing.result()
    assert ref is None and "the disk holding" in notes[0]


def test_ref_from_env() -> None:
    from grange.environments.package import ref_from_env

    assert ref_from_env({}) is None
    env = {
        "GRANGE_CODE_PACKAGE_URL": "s3://b/F/data/ab/x",
        "GRANGE_CODE_PACKAGE_SHA": "ab" * 32,
        "GRANGE_CODE_PACKAGE_FLOW_FILE": "flows/f.py",
    }
    assert ref_from_env(env) == PackageRef("s3://b/F/data/ab/x", "ab" * 32, "flows/f.py")


def test_a_run_that_ends_before_its_datastore_opens_ends_the_packing_thread(
    flow_file: str, location: DatastoreLocation
) -> None:
    # A run whose metadata URL is bad fails before store_in(): the thread must not
    # wait forever (it would keep later fork-server restarts from happening).
    packing = PackageInBackground(flow_file, "TrainFlow", (), location)
    packing.close()
    packing._thread.join(timeout=60)
    assert not packing._thread.is_alive()
    assert not any(location.path.rglob("*")) if location.path.exists() else True
