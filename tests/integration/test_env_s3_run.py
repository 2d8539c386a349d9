"""A run on an S3 datastore (moto) with a @pypi step: the environment gets what a
task on S3 imports (obstore, from ``manager.datastore_packages``), so the step writes
artifacts and the next step reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s3server import MotoServer

FLOW = """
from grange import FlowSpec, pypi, step


class S3EnvFlow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.table)

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def table(self):
        import tabulate

        self.version = tabulate.__version__
        self.text = tabulate.tabulate([self.numbers])
        self.next(self.end)

    @step
    def end(self):
        assert self.version == "0.9.0", self.version
        assert "1" in self.text and "3" in self.text, self.text
        print("END-READ", self.version)


if __name__ == "__main__":
    S3EnvFlow()
"""


@pytest.mark.slow
@pytest.mark.parametrize("fork", [True, False], ids=["fork-server", "no-fork"])
def test_pypi_step_on_s3(tmp_path: Path, s3_server: MotoServer, s3_bucket: str, fork: bool) -> None:
    from grange.environments.settings import default_cache_dir

    flow = tmp_path / "s3_env_flow.py"
    flow.write_text(FLOW)
    env = {**os.environ, **s3_server.env(), "GRANGE_ENV_CACHE": str(default_cache_dir())}
    env["GRANGE_CACHE_DIR"] = str(tmp_path / "cache")
    argv = [sys.executable, str(flow), "--datastore-root", f"s3://{s3_bucket}/root", "run"]
    done = subprocess.run(
        argv + ([] if fork else ["--no-fork"]),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-4000:]
    assert "END-READ 0.9.0" in said
    assert "Resolved @pypi environment for table: tabulate==0.9.0" in said


def test_datastore_runtime_follows_the_root() -> None:
    from grange.runtime.envs import datastore_runtime

    assert datastore_runtime({"GRANGE_DATASTORE_ROOT": "/tmp/x"}) == ()
    found = dict(datastore_runtime({"GRANGE_DATASTORE_ROOT": "s3://b/p", "AWS_ACCESS_KEY_ID": "k"}))
    assert "obstore" in found and "boto3" not in found
    found = dict(datastore_runtime({"GRANGE_DATASTORE_ROOT": "s3://b/p", "AWS_PROFILE": "x"}))
    assert "boto3" in found or not _has("boto3")


def _has(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
