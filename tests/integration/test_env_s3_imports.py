"""What a task on an S3 datastore imports from outside the standard library: exactly
what step environments provide it (the shim's task dependencies, and what
``manager.datastore_packages`` adds on S3). A new import on that path would break
every @pypi/@conda step on S3: this test names it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grange.environments import shim
from s3server import MotoServer

LISTED = """
def third_party():
    names = set()
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if "site-packages" in where and not name.startswith("_"):
            names.add(name.split(".")[0])
    return sorted(names)
"""

FLOW = (
    "import json, os, sys\nfrom grange import FlowSpec, step\n"
    + LISTED
    + """

class ImportsFlow(FlowSpec):
    @step
    def start(self):
        with open(os.environ["IMPORTS_OUT"], "w") as f:
            json.dump(third_party(), f)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ImportsFlow()
"""
)


@pytest.mark.slow
def test_an_s3_task_imports_only_what_environments_provide(
    tmp_path: Path, s3_server: MotoServer, s3_bucket: str
) -> None:
    flow = tmp_path / "imports_flow.py"
    flow.write_text(FLOW)
    out = tmp_path / "imports.json"
    env = {**os.environ, **s3_server.env(), "IMPORTS_OUT": str(out)}
    env["GRANGE_CACHE_DIR"] = str(tmp_path / "cache")
    done = subprocess.run(
        [
            sys.executable,
            str(flow),
            "--datastore-root",
            f"s3://{s3_bucket}/root",
            "run",
            "--no-fork",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    imported = set(json.loads(out.read_text()))
    assert "obstore" in imported
    provided = {"grange", *shim.TASK_DEPS, *shim.CLOSURES["obstore"]}
    # What the interpreter imports by itself (.pth start-up hooks) is no task's.
    bare = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{LISTED}\nprint(json.dumps(third_party()))"],
        capture_output=True,
        text=True,
        check=True,
    )
    startup = set(json.loads(bare.stdout))
    assert imported - provided - startup == set()
