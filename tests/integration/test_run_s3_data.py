"""A flow whose steps read and write their own data with ``grange.S3``."""

from __future__ import annotations

import os

from grange import Flow
from s3server import MotoServer
from support import Runner


def test_steps_share_data_through_s3(
    runner: Runner, fork: bool, s3_server: MotoServer, s3_bucket: str
) -> None:
    root = f"s3://{s3_bucket}/flow-data"
    result = runner.run("s3_data", "--root", root, env=runner.env(**s3_server.env()), fork=fork)
    data = Flow("S3DataFlow")[result.run_id].data
    assert data.texts == [f"shard {i}" for i in range(4)]
    assert data.listed == [f"{i}.txt" for i in range(4)]
    assert all(not os.path.exists(p) for p in data.paths)  # removed when each step's scope ended
    assert "local datastore" in data.run_error
