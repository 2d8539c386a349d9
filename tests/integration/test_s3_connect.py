"""Connecting to the loopback S3 server, and its errors in the user's terms."""

from __future__ import annotations

import pytest

from grange.datastore.s3 import S3Settings
from grange.datastore.s3.connect import open_store, translate
from grange.exceptions import BlobNotFound, StoreAccessError
from s3server import MotoServer, free_port

obstore = pytest.importorskip("obstore")


def _error(call: object) -> BaseException:
    try:
        call()  # type: ignore[operator]
    except Exception as err:
        return err
    raise AssertionError("no error")


def test_missing_bucket_key_and_server_are_told_apart(
    s3_server: MotoServer, s3_bucket: str
) -> None:
    settings = S3Settings.from_env()
    missing = "grange-no-such-bucket"
    err = _error(lambda: obstore.get(open_store(missing, settings), "a/b").bytes())
    out = translate(err, bucket=missing, key="a/b", doing="read", settings=settings)
    assert isinstance(out, StoreAccessError) and out.reason == "no-bucket"
    assert f"s3://{missing}/a/b" in str(out) and "aws s3 mb" in str(out)

    err = _error(lambda: obstore.get(open_store(s3_bucket, settings), "a/b").bytes())
    out = translate(err, bucket=s3_bucket, key="a/b", doing="read", settings=settings)
    assert isinstance(out, BlobNotFound) and out.key == "a/b"

    down = settings.with_(endpoint_url=f"http://127.0.0.1:{free_port()}", retry_timeout=0.5)
    err = _error(lambda: obstore.get(open_store(s3_bucket, down), "a").bytes())
    out = translate(err, bucket=s3_bucket, key="a", doing="read", settings=down)
    assert isinstance(out, StoreAccessError) and out.reason == "unreachable"
    assert "did not answer" in str(out) and "Debug source" not in str(out)


def test_create_only_put_is_honoured(s3_bucket: str) -> None:
    store = open_store(s3_bucket, S3Settings.from_env())
    obstore.put(store, "claim", b"first", mode="create")
    err = _error(lambda: obstore.put(store, "claim", b"second", mode="create"))
    assert type(err).__name__ == "AlreadyExistsError"
    assert bytes(obstore.get(store, "claim").bytes()) == b"first"


def test_a_forked_child_of_an_s3_user_is_told_not_to_hang(s3_bucket: str, tmp_path) -> None:
    """obstore's threads do not survive fork: a child's first request would hang forever."""
    import os

    settings = S3Settings.from_env()
    obstore.put(open_store(s3_bucket, settings), "k", b"v")
    out = tmp_path / "child"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            open_store(s3_bucket, settings)
            out.write_text("opened")
        except StoreAccessError as err:
            out.write_text(str(err))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert "forked from one that used S3" in out.read_text()
