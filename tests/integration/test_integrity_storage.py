"""A full disk and a read-only store: told apart, said clearly, nothing lost.

The small and read-only file systems are real: a tmpfs of a few hundred KiB,
and a read-only bind mount, each in a private mount namespace (``unshare -m``,
which needs root), so that nothing leaks into the machine's mounts.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grange import Flow, Run, metadata, namespace
from support import RUN_FLOWS, Runner


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _can_unshare(), reason="needs root and unshare -m to mount test file systems"
)


def _in_namespace(
    runner: Runner, mounts: str, argv: list[str], *, after: str = "", root: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in a private mount namespace after the shell commands ``mounts``."""
    command = " ".join(shlex.quote(a) for a in argv)
    script = f"set -e; {mounts}; set +e; {command}; rc=$?; {after or ':'}; exit $rc"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        cwd=runner.cwd,
        env={**runner.env(), "GRANGE_DATASTORE_ROOT": str(root or runner.root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _read_only(root: Path) -> str:
    return f"mount --bind {root} {root}; mount -o remount,ro,bind {root}"


def test_a_read_only_store_can_be_read_and_says_it_cannot_be_written(runner: Runner) -> None:
    runner.run("params", "--alpha", "7", "--tag", "first")
    flow = str(RUN_FLOWS / "params.py")
    ro = _read_only(runner.root)
    reads = {
        "runs": ["grange", "runs", "--all"],
        "dump": [sys.executable, flow, "dump", "1/start"],
        "logs": [sys.executable, flow, "logs", "1/end"],
        "client": [
            sys.executable,
            "-c",
            "from grange import Run, namespace; namespace(None); "
            "print('alpha', Run('ParamsRunFlow/1').data.seen['alpha'])",
        ],
    }
    for name, argv in reads.items():
        done = _in_namespace(runner, ro, argv)
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
    assert "alpha 7.0" in _in_namespace(runner, ro, reads["client"]).stdout
    assert "succeeded" in _in_namespace(runner, ro, reads["runs"]).stdout
    writes = {
        "run": [sys.executable, flow, "run"],
        "tag": [sys.executable, flow, "tag", "add", "x", "--run-id", "1"],
    }
    for name, argv in writes.items():
        done = _in_namespace(runner, ro, argv)
        assert done.returncode != 0, name
        assert "Read-only store" in done.stderr and "read-only" in done.stderr, done.stderr
        assert "damaged" not in done.stderr and "Traceback" not in done.stderr
    metadata(f"local@{runner.root}")
    namespace(None)
    assert [r.id for r in Flow("ParamsRunFlow")] == ["1"]  # nothing was half written


def test_a_full_disk_mid_run_is_named_and_resume_finishes_the_run(
    runner: Runner, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    copy = tmp_path / "copy"
    flow = str(RUN_FLOWS / "fill_disk.py")
    argv = [sys.executable, flow, "run", "--size", str(4 * 1024 * 1024)]
    done = _in_namespace(
        runner,
        f"mount -t tmpfs -o size=2m tmpfs {disk}",
        [*argv, "--run-id-file", str(tmp_path / "id")],
        after=f"cp -a {disk}/.grange {copy}",
        root=disk / ".grange",
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "Disk full" in out and "artifact 'big' could not be saved" in out, out
    assert "step 'join'" in out
    print(out)
    # the store (copied out of the small disk) is consistent: the run failed, the
    # tasks that finished are there, and resume with room to spare finishes it
    runner.root = copy
    metadata(f"local@{copy}")
    namespace(None)
    run = Run("FillDiskFlow/1")
    assert run.status == "failed" and not run.successful
    assert sorted(t.id for t in run["each"]) == ["2", "3", "4"]
    assert run["each"].task.successful
    resumed = runner.resume("fill_disk", "--origin-run-id", "1", cwd=disk.parent)
    assert "total 60 big 4194304" in resumed.output, resumed.explain()
    assert Run(f"FillDiskFlow/{resumed.run_id}").successful


def test_a_disk_filled_under_the_index_loses_no_committed_task(
    runner: Runner, tmp_path: Path
) -> None:
    """The step fills the disk itself, so the index cannot record what finished;
    the tasks that committed their records are reused by resume all the same."""
    disk = tmp_path / "disk"
    disk.mkdir()
    copy = tmp_path / "copy"
    flow = str(RUN_FLOWS / "fill_disk.py")
    filler = disk / "filler"
    done = _in_namespace(
        runner,
        f"mount -t tmpfs -o size=2m tmpfs {disk}",
        [sys.executable, flow, "run", "--size", "10", "--fill", str(filler)],
        after=f"rm -f {filler}; cp -a {disk}/.grange {copy}",
        root=disk / ".grange",
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out  # the run could not go on: an error, not a failed run
    assert "Disk full" in out and "Internal error" not in out, out
    metadata(f"local@{copy}")
    namespace(None)
    runner.root = copy
    run = Run("FillDiskFlow/1")
    assert run.status in ("failed", "crashed"), run.status
    resumed = runner.resume(
        "fill_disk", "--origin-run-id", "1", cwd=tmp_path
    )  # fills 32 MiB at most
    assert "total 60" in resumed.output, resumed.explain()
    new = Run(f"FillDiskFlow/{resumed.run_id}")
    assert new.successful
    assert all(t.origin_pathspec for t in new["each"]), "committed foreach tasks were re-run"
