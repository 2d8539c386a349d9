"""Code packages end to end: recorded by every run, read by the client, listed and
saved by the CLI, and run from by ``python -m grange.environments.bootstrap`` in a
directory where the flow file does not exist outside the package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from grange import Flow, metadata, namespace
from grange.environments.package import PackageRef, fetch_package
from s3server import MotoServer
from support import FLOWS, Runner

PACKAGE_FLOWS = FLOWS / "package"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of tests/flows/package: the flow, a module it imports, a data file and
    an ignored scratch folder."""
    target = tmp_path / "project"
    shutil.copytree(PACKAGE_FLOWS, target)
    return target


def claim(root: Path | str, flow: str, run_id: str) -> dict:
    return json.loads((Path(root) / flow / run_id / "run.json").read_text())


def bootstrap(
    ref: PackageRef, *args: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    argv = [
        sys.executable,
        "-m",
        "grange.environments.bootstrap",
        "--package-url",
        ref.url,
        "--package-sha",
        ref.sha,
        "--flow-file",
        ref.flow_file,
        "--",
        *args,
    ]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_every_run_records_its_package_and_run_code_reads_it(
    runner: Runner, project: Path, tmp_path: Path
) -> None:
    flow_file = project / "code_flow.py"
    result = runner.run(flow_file)
    recorded = claim(runner.root, "CodeFlow", str(result.run_id))["extra"]["code_package"]
    run = Flow("CodeFlow")[str(result.run_id)]
    code = run.code
    assert code is not None
    assert code.ref.to_dict() == recorded
    assert code.path == recorded["url"] and Path(code.path).is_file()
    assert code.flowspec == flow_file.read_text()
    assert code.info["flow_name"] == "CodeFlow" and code.info["flow_file"] == "code_flow.py"
    names = code.tarball.getnames()
    assert {"INFO.json", "code_flow.py", "helper.py", "grange/__init__.py"} <= set(names)
    assert "notes.txt" not in names and "scratch/draft.py" not in names
    folder = code.extract(tmp_path / "extracted")
    assert (folder / "helper.py").read_text() == (project / "helper.py").read_text()
    with code.extract() as temp:
        assert (Path(temp) / "code_flow.py").is_file()
    assert run.data.value == 42 and run.data.package_sha is None  # not run from a package

    # The same files: the same package, stored once; resume records it too.
    again = runner.run(flow_file)
    assert Flow("CodeFlow")[str(again.run_id)].code.sha == code.sha  # type: ignore[union-attr]
    resumed = runner.resume(flow_file, "--origin-run-id", str(again.run_id), "start")
    assert Flow("CodeFlow")[str(resumed.run_id)].code.sha == code.sha  # type: ignore[union-attr]
    assert len(list((runner.root / "CodeFlow" / "data" / code.sha[:2]).glob(code.sha))) == 1


def test_a_run_without_a_package_reads_none(runner: Runner, project: Path) -> None:
    result = runner.run(project / "code_flow.py")
    path = runner.root / "CodeFlow" / str(result.run_id) / "run.json"
    data = json.loads(path.read_text())
    del data["extra"]["code_package"]  # as a run from before code packages
    path.write_text(json.dumps(data))
    assert Flow("CodeFlow")[str(result.run_id)].code is None


def test_package_list_and_save(runner: Runner, project: Path, tmp_path: Path) -> None:
    flow_file = project / "code_flow.py"
    listed = runner(flow_file, "package", "list")
    size = (project / "helper.py").stat().st_size
    assert listed.stdout.splitlines()[-1].strip() == f"{size} B  helper.py"
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == [
        "code_flow.py",
        "helper.py",
    ]
    with_txt = runner(flow_file, "package", "list", top=("--package-suffixes", ".txt"))
    assert [line.split()[-1] for line in with_txt.stdout.splitlines()] == [
        "code_flow.py",
        "helper.py",
        "notes.txt",
    ]
    saved = tmp_path / "code.tgz"
    out = runner(flow_file, "package", "save", str(saved), top=("--package-suffixes", ".txt"))
    assert "Saved the code package in" in out.stderr
    with tarfile.open(saved) as tar:
        assert "notes.txt" in tar.getnames()
    # A run with the same suffixes records the very same bytes.
    result = runner.run(flow_file, top=("--package-suffixes", ".txt"))
    code = Flow("CodeFlow")[str(result.run_id)].code
    assert code is not None and code.blob == saved.read_bytes()
    info = runner(flow_file, "package", "info", top=("--package-suffixes", "txt"))
    assert f"sha256: {code.sha}" in info.stdout


def test_bootstrap_runs_the_flow_from_its_package_alone(
    runner: Runner, project: Path, tmp_path: Path
) -> None:
    result = runner.run(project / "code_flow.py")
    ref = Flow("CodeFlow")[str(result.run_id)].code.ref  # type: ignore[union-attr]
    shutil.rmtree(project)  # the flow's directory is gone: only the package has it
    elsewhere = tmp_path / "pod"
    elsewhere.mkdir()
    code_dir = tmp_path / "code"
    env = runner.env(GRANGE_CODE_DIR=str(code_dir))
    ran = bootstrap(ref, "--datastore-root", str(runner.root), "run", cwd=elsewhere, env=env)
    assert ran.returncode == 0, ran.stderr
    run = Flow("CodeFlow").latest_run
    assert run.successful and run.id != result.run_id
    assert run.data.value == 42
    assert run.data.grange_file == str(code_dir / ref.sha / "grange" / "__init__.py")
    assert run.data.cwd == str(code_dir / ref.sha)
    assert run.data.package_sha == ref.sha


def test_bootstrap_refuses_a_damaged_package(runner: Runner, project: Path, tmp_path: Path) -> None:
    result = runner.run(project / "code_flow.py")
    ref = Flow("CodeFlow")[str(result.run_id)].code.ref  # type: ignore[union-attr]
    data = bytearray(Path(ref.url).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(ref.url).write_bytes(bytes(data))
    env = runner.env(GRANGE_CODE_DIR=str(tmp_path / "code"))
    ran = bootstrap(ref, "run", cwd=tmp_path, env=env)
    assert ran.returncode == 2
    assert "is damaged" in ran.stderr and "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "code" / ref.sha).exists()


def test_s3_datastore_package_read_by_client_and_bootstrap(
    runner: Runner, project: Path, tmp_path: Path, s3_server: MotoServer, s3_bucket: str
) -> None:
    root = f"s3://{s3_bucket}/team/grange"
    env = runner.env(**s3_server.env(), GRANGE_DATASTORE_ROOT=root)
    result = runner.run(project / "code_flow.py", env=env)
    metadata(f"local@{root}")
    namespace(None)
    code = Flow("CodeFlow")[str(result.run_id)].code
    assert code is not None
    assert code.path == f"{root}/CodeFlow/data/{code.sha[:2]}/{code.sha}"
    assert code.flowspec == (project / "code_flow.py").read_text()
    assert fetch_package(code.ref) == code.blob
    shutil.rmtree(project)
    pod = {**env, "GRANGE_CODE_DIR": str(tmp_path / "code")}
    ran = bootstrap(code.ref, "--datastore-root", root, "run", cwd=tmp_path, env=pod)
    assert ran.returncode == 0, ran.stderr
    latest = Flow("CodeFlow").latest_run
    assert latest.id != result.run_id and latest.data.package_sha == code.sha
