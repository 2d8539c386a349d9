"""The pod's entry point: parse, download (retrying what may pass), verify, unpack once."""

from __future__ import annotations

import errno
import io
import tarfile
from pathlib import Path

import pytest

from grange.datastore import DatastoreLocation
from grange.environments import bootstrap, unpack
from grange.environments.package import PackageRef, package_flow
from grange.exceptions import DatastoreError, StoreAccessError

SHA = "0" * 64


@pytest.fixture
def code_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "code"
    monkeypatch.setenv("GRANGE_CODE_DIR", str(folder))
    return folder


@pytest.fixture
def ref(tmp_path: Path) -> PackageRef:
    (tmp_path / "src").mkdir()
    flow = tmp_path / "src" / "flow.py"
    flow.write_text("from grange import FlowSpec\n")
    return package_flow(str(flow), DatastoreLocation.of(tmp_path / "store"), "F")


def argv(ref: PackageRef, *rest: str) -> list[str]:
    return [
        "--package-url",
        ref.url,
        f"--package-sha={ref.sha}",
        "--flow-file",
        ref.flow_file,
        "--",
        *rest,
    ]


def test_parse() -> None:
    options = ["--package-url", "s3://b/F/data/00/x", "--package-sha", SHA.upper()]
    ref, rest = bootstrap.parse([*options, "--flow-file", "f.py", "--", "--quiet", "step", "start"])
    assert (ref.url, ref.sha, ref.flow_file) == ("s3://b/F/data/00/x", SHA, "f.py")
    assert rest == ["--quiet", "step", "start"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--package-url", "u"], "no '--'"),
        (["--package-url", "u", "--"], "missing --package-sha, --flow-file"),
        (["--bogus", "1", "--"], "unknown option '--bogus'"),
        (["--package-url", "u", "--package-sha", "abc", "--flow-file", "f", "--"], "not a sha256"),
    ],
)
def test_bad_command_lines_get_one_line_and_status_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bootstrap.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_runs_the_flow_file_from_the_unpacked_package(
    ref: PackageRef, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, str, list[str]]] = []
    monkeypatch.setattr(bootstrap, "run", lambda f, flow, r, a: calls.append((f, flow, a)))
    assert bootstrap.main(argv(ref, "step", "start")) == 0
    folder = code_dir / ref.sha
    assert calls == [(folder, "flow.py", ["step", "start"])]
    assert (folder / "flow.py").is_file() and (folder / "grange" / "__init__.py").is_file()
    assert not [p for p in code_dir.iterdir() if p.name.startswith(".")]  # no temp left
    # Once unpacked, the package is not downloaded again.
    Path(ref.url).unlink()
    assert bootstrap.main(argv(ref, "step", "end")) == 0


def test_a_damaged_package_is_refused(
    ref: PackageRef, code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(ref.url).write_bytes(b"garbage")
    assert bootstrap.main(argv(ref)) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and err.count("\n") == 1
    assert not code_dir.exists() or not any(code_dir.iterdir())


def test_a_missing_package_or_flow_file_is_refused(
    ref: PackageRef, code_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = PackageRef(ref.url + "0", ref.sha, ref.flow_file)
    assert bootstrap.main(argv(missing)) == 2
    assert "does not exist" in capsys.readouterr().err
    other = PackageRef(ref.url, ref.sha, "flows/other.py")
    assert bootstrap.main(argv(other)) == 2
    assert "holds no flow file 'flows/other.py'" in capsys.readouterr().err
    escape = PackageRef(ref.url, ref.sha, "../flow.py")
    assert bootstrap.main(argv(escape)) == 2
    assert "not a path inside the package" in capsys.readouterr().err


def test_transient_errors_are_tried_again(
    ref: PackageRef, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = bootstrap._get
    failures = [OSError(errno.EIO, "I/O error"), StoreAccessError("slow down", reason="throttled")]
    waits: list[float] = []

    def flaky(r: PackageRef) -> bytes:
        if failures:
            raise failures.pop(0)
        return real(r)

    monkeypatch.setattr(bootstrap, "_get", flaky)
    assert bootstrap.download(ref, wait=1.0, sleep=waits.append)
    assert waits == [1.0, 2.0]


def test_permanent_errors_are_not(
    ref: PackageRef, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(r: PackageRef) -> bytes:
        raise StoreAccessError("access denied to s3://b/k", reason="denied", fix="grant it")

    monkeypatch.setattr(bootstrap, "_get", denied)
    waits: list[float] = []
    with pytest.raises(DatastoreError, match="access denied") as info:
        bootstrap.download(ref, sleep=waits.append)
    assert waits == [] and info.value.fix == "grant it"


def test_the_last_try_fails_with_the_count(
    ref: PackageRef, code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(r: PackageRef) -> bytes:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(bootstrap, "_get", broken)
    with pytest.raises(DatastoreError, match=r"\(tried 3 times\): I/O error"):
        bootstrap.download(ref, tries=3, sleep=lambda s: None)


def test_unpack_races_end_with_one_whole_folder(ref: PackageRef, tmp_path: Path) -> None:
    data = Path(ref.url).read_bytes()
    target = tmp_path / "code" / ref.sha
    assert unpack.unpack(data, target) == target
    (target / "marker").write_text("first")
    assert unpack.unpack(data, target) == target  # there already: kept as it is
    assert (target / "marker").read_text() == "first"


def archive_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py"])
def test_entries_that_would_leave_the_folder_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a plain file"):
        unpack.extract_all(archive_with(tarfile.TarInfo(name), b"x"), tmp_path)


def test_links_are_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("grange")
    link.type = tarfile.SYMTYPE
    link.linkname = "/usr/lib/python3/grange"
    with pytest.raises(ValueError, match="not a plain file"):
        unpack.extract_all(archive_with(link), tmp_path)


def test_code_base(tmp_path: Path) -> None:
    assert unpack.code_base({"GRANGE_CODE_DIR": str(tmp_path)}) == tmp_path
    assert unpack.code_base({"GRANGE_CACHE_DIR": str(tmp_path)}) == tmp_path / "code"
    assert unpack.code_base({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "grange" / "code"
