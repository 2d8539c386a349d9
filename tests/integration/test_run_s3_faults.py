"""Runs on an S3 datastore whose server misbehaves (through the loopback proxy):
throttling is retried and the run succeeds; a store that goes away mid-run fails
the run with a message that says so, and the run resumes once the store is back."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grange import Flow, metadata, namespace
from s3proxy import S3Proxy
from s3server import MotoServer
from support import Runner

pytest.importorskip("obstore")


@pytest.fixture
def proxy(s3_server: MotoServer) -> Iterator[S3Proxy]:
    proxy = S3Proxy(s3_server.url)
    yield proxy
    proxy.close()


def _env(runner: Runner, proxy: S3Proxy, bucket: str, **extra: str) -> dict[str, str]:
    return runner.env(
        **{
            "GRANGE_DATASTORE_ROOT": f"s3://{bucket}/runs",
            "GRANGE_S3_ENDPOINT_URL": proxy.url,
            "GRANGE_S3_RETRY_TIMEOUT": "3",
            "GRANGE_S3_CONNECT_TIMEOUT": "1",
            **extra,
        }
    )


def test_a_throttled_store_is_retried_and_the_run_succeeds(
    runner: Runner, proxy: S3Proxy, s3_bucket: str
) -> None:
    # Backoff doubles from 0.1 s: five in a row fit well in a minute of retrying.
    env = _env(runner, proxy, s3_bucket, GRANGE_S3_RETRY_TIMEOUT="60")
    proxy.throttle(5)  # the next 5 requests answer 503 SlowDown (each is retried)
    result = runner.run("s3_outage", env=env)
    assert proxy.faults == 5
    metadata(f"local@s3://{s3_bucket}/runs")
    namespace(None)
    assert Flow("OutageRunFlow")[str(result.run_id)].data.outs == [10, 20, 30]


def test_a_store_that_keeps_throttling_is_named_with_the_fix(
    runner: Runner, proxy: S3Proxy, s3_bucket: str
) -> None:
    env = _env(runner, proxy, s3_bucket, GRANGE_S3_RETRIES="2")
    proxy.throttle(1000)
    result = runner.run("s3_outage", env=env, ok=False)
    assert "too many requests" in result.stderr and "GRANGE_S3_MAX_CONCURRENCY" in result.stderr
    assert "Debug source" not in result.output and "Traceback" not in result.output


def test_a_store_gone_mid_run_fails_it_clearly_and_resume_finishes_it(
    runner: Runner, proxy: S3Proxy, s3_bucket: str, tmp_path: Path
) -> None:
    ready, go = tmp_path / "ready", tmp_path / "go"
    env = _env(runner, proxy, s3_bucket, READY_FILE=str(ready), GO_FILE=str(go))
    argv, id_file = runner.argv("s3_outage", "run")
    with subprocess.Popen(
        argv, cwd=runner.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout
            time.sleep(0.05)
        proxy.stop()  # the store goes away while start is running
        go.write_text("go")
        output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, output
    assert "did not answer" in output, output
    assert f"s3://{s3_bucket}/runs" in output
    assert "Traceback" not in output.replace("Traceback (most recent call last)", "", 0) or (
        "grange/" not in output.split("Traceback", 1)[1]
    ), output
    assert id_file is not None and id_file.exists()
    failed = id_file.read_text().strip()

    proxy.start()  # the store is back, with everything it held
    resumed = runner.resume(
        "s3_outage", env={k: v for k, v in env.items() if k not in ("READY_FILE", "GO_FILE")}
    )
    assert f"resuming run {failed}" in resumed.output
    metadata(f"local@s3://{s3_bucket}/runs")
    namespace(None)
    run = Flow("OutageRunFlow")[str(resumed.run_id)]
    assert run.successful and run.data.outs == [10, 20, 30]
