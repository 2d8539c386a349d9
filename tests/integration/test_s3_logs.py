"""Task logs on S3: uploaded whole while the task runs, complete once it ends."""

from __future__ import annotations

import time

import pytest

from grange.datastore import LogSink, log_key, read_log
from grange.datastore.s3 import S3Settings, S3Url
from grange.datastore.s3.blobstore import S3BlobStore
from s3proxy import S3Proxy
from s3server import MotoServer

pytest.importorskip("obstore")


def _eventually(check: object) -> None:
    """Poll ``check()`` while the background upload runs (not a speed check)."""
    for _ in range(600):
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("the log was never uploaded")


def test_a_running_tasks_log_shows_recent_output_and_the_whole_log_at_the_end(
    s3_bucket: str,
) -> None:
    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    key = log_key("F", "1", "train", "3", 0, "stdout")
    sink = LogSink(store, key, upload_every=0.2)
    sink.write(b"epoch 1\n")
    _eventually(lambda: read_log(store, key) == b"epoch 1\n")  # uploaded while quiet
    for i in range(2, 200):
        sink.write(f"epoch {i}\n".encode())
    sink.writelines([b"done\n", memoryview(b"bye\n")])
    _eventually(lambda: read_log(store, key).endswith(b"bye\n"))
    sink.write(b"last line\n")
    sink.close()  # the final upload is synchronous
    expected = b"".join(f"epoch {i}\n".encode() for i in range(1, 200))
    assert read_log(store, key) == expected + b"done\nbye\nlast line\n"
    assert store.list("F") == [key]
    with pytest.raises(ValueError, match="closed"):
        sink.write(b"late")


def test_a_chatty_task_costs_a_few_uploads_not_one_per_line(
    s3_server: MotoServer, s3_bucket: str
) -> None:
    proxy = S3Proxy(s3_server.url)
    settings = S3Settings.from_env().with_(endpoint_url=proxy.url)
    store = S3BlobStore(S3Url(s3_bucket, "p"), settings)
    key = log_key("F", "1", "train", "4", 0, "stderr")
    try:
        with LogSink(store, key, upload_every=3600) as sink:
            for _ in range(1000):
                sink.write(b"x" * 100 + b"\n")
        assert proxy.requests <= 2  # the first upload soon after output began, the last
    finally:
        proxy.close()
    direct = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    assert read_log(direct, key) == (b"x" * 100 + b"\n") * 1000


def test_appending_stays_available_for_other_callers(s3_bucket: str) -> None:
    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    assert not store.can_append
    store.append_bytes("F/1/s/1/0/stdout.log", b"one\n")
    store.append_bytes("F/1/s/1/0/stdout.log", b"two\n")
    assert store.get_bytes("F/1/s/1/0/stdout.log") == b"one\ntwo\n"


def test_closing_many_logs_uploads_them_in_one_batch(s3_server: MotoServer, s3_bucket: str) -> None:
    from grange.datastore.logs import close_all

    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    sinks = [
        LogSink(store, log_key("F", "1", "train", str(i), 0, stream), upload_every=3600)
        for i in range(10)
        for stream in ("stdout", "stderr")
    ]
    for sink in sinks:
        sink.write(sink.key.encode() + b"\n")
    batches: list[int] = []
    put_many = store.put_many
    store.put_many = lambda items, **kw: batches.append(len(items)) or put_many(items, **kw)  # type: ignore[method-assign]
    close_all([*sinks, sinks[0]])
    assert batches == [20]
    assert all(read_log(store, s.key) == s.key.encode() + b"\n" for s in sinks)
    assert all(s.closed for s in sinks)


def test_background_uploads_pause_for_a_fork(s3_bucket: str) -> None:
    import threading

    from grange.datastore.logs import paused_uploads

    store = S3BlobStore(S3Url(s3_bucket, "p"), S3Settings.from_env())
    key = log_key("F", "1", "train", "5", 0, "stdout")
    sink = LogSink(store, key, upload_every=0.1)
    sink.write(b"one\n")
    uploader = [t for t in threading.enumerate() if t.name == "grange-log-upload"]
    assert uploader
    with paused_uploads():
        assert not any(t.name == "grange-log-upload" for t in threading.enumerate())
        sink.write(b"two\n")  # kept, not uploaded by a thread
        assert not any(t.name == "grange-log-upload" for t in threading.enumerate())
    _eventually(lambda: read_log(store, key) == b"one\ntwo\n")  # the thread is back
    sink.close()
