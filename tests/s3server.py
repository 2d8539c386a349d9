"""An S3-protocol server on loopback for the tests: moto's standalone server.

It runs in its own process (so that its work does not compete with the test's
for one GIL, and a test can stop it and start it again). Each test gets its own
bucket; the environment of the test and of every process it starts points at
the server with fake credentials (moto accepts any).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "grange-test",
    "AWS_SECRET_ACCESS_KEY": "grange-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``python -m moto.server`` on a free loopback port, started and stopped by the tests."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        with open(self.log, "ab") as out:  # the server process keeps its own copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **FAKE_CREDENTIALS},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"moto server did not start; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh unique name unless given) and return its name."""
        import boto3

        name = name or f"grange-test-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", **_boto3_keys())
        client.create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """Environment variables that point grange (and boto3) at this server."""
        return {
            **FAKE_CREDENTIALS,
            "GRANGE_S3_ENDPOINT_URL": self.url,
            "AWS_ENDPOINT_URL": self.url,
            "GRANGE_S3_RETRY_TIMEOUT": "10",
        }


def _boto3_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }
