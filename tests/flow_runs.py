"""Run real flows the way a user does (``python flow.py run``), for the client tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import FLOWS

CLIENT_FLOWS = FLOWS / "client"
VALID_FLOWS = FLOWS / "valid"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any GRANGE_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANGE_")}
    env.pop("CLIENT_FAIL", None)
    env.update(extra)
    return env


def python(
    *args: str | Path, cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in ``cwd``; with ``check``, fail the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"python {' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def run_flow(
    flow_file: Path,
    *args: str,
    root: Path,
    user: str,
    command: str = "run",
    expect_failure: bool = False,
    **env: str,
) -> str:
    """``python FLOW_FILE COMMAND ARGS`` as ``user``, storing under ``root``; the run id."""
    id_file = root.parent / f"run-id-{os.getpid()}-{flow_file.stem}"
    full_env = clean_env(GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER=user, **env)
    result = python(
        flow_file,
        command,
        "--run-id-file",
        str(id_file),
        *args,
        cwd=flow_file.parent,
        env=full_env,
        check=not expect_failure,
    )
    if expect_failure:
        assert result.returncode != 0, result.stdout + result.stderr
    return id_file.read_text().strip()
