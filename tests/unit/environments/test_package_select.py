"""Which files of a flow's directory go into its code package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grange.environments import select
from grange.environments.select import normalize_suffixes, select_files
from grange.exceptions import CommandError

FLOW = "from grange import FlowSpec\n"


def write(path: Path, text: str = "x = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def names(flow_file: Path, *suffixes: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return [f.name for f in select_files(flow_file, suffixes, exclude=exclude).files]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A flow's directory: the flow, a helper module, a package, data and a config."""
    root = tmp_path / "project"
    write(root / "flow.py", FLOW)
    write(root / "helpers.py")
    write(root / "lib" / "__init__.py")
    write(root / "lib" / "model.py")
    write(root / "config.yaml", "a: 1\n")
    write(root / "data" / "big.csv", "1,2\n")
    return root


def test_python_files_by_default_in_sorted_order(project: Path) -> None:
    assert names(project / "flow.py") == [
        "flow.py",
        "helpers.py",
        "lib/__init__.py",
        "lib/model.py",
    ]


def test_suffixes_add_files(project: Path) -> None:
    got = names(project / "flow.py", ".yaml", "csv")
    assert "config.yaml" in got and "data/big.csv" in got


def test_suffixes_normalized() -> None:
    assert normalize_suffixes(["txt, .json", ".py", ""]) == (".py", ".txt", ".json")
    with pytest.raises(CommandError, match="not a file name suffix"):
        normalize_suffixes(["a/b"])


def test_gitignore_and_grangeignore(project: Path) -> None:
    write(project / ".gitignore", "lib/\nhelpers.py\n*.yaml\n")
    write(project / ".grangeignore", "!helpers.py\n")  # re-included: .grangeignore comes last
    assert names(project / "flow.py", ".yaml") == ["flow.py", "helpers.py"]


def test_nested_ignore_file_applies_to_its_subtree(project: Path) -> None:
    write(project / "lib" / ".grangeignore", "model.py\n")
    write(project / "model.py")  # same name outside lib/: kept
    assert names(project / "flow.py") == [
        "flow.py",
        "helpers.py",
        "lib/__init__.py",
        "model.py",
    ]


def test_gitignore_above_the_flow_directory_up_to_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / ".gitignore", "generated_*.py\nflows/scratch/\n")
    flows = repo / "flows"
    write(flows / "flow.py", FLOW)
    write(flows / "generated_x.py")
    write(flows / "scratch" / "try.py")
    write(flows / "kept.py")
    write(tmp_path / ".gitignore", "*.py\n")  # above the repository: not read
    assert names(flows / "flow.py") == ["flow.py", "kept.py"]


def test_the_flow_file_is_packed_even_when_ignored(project: Path) -> None:
    write(project / ".grangeignore", "*.py\n")
    selection = select_files(project / "flow.py")
    assert [f.name for f in selection.files] == ["flow.py"]
    assert any("it is the flow file" in s.reason for s in selection.skipped)


def test_hidden_cache_venv_and_datastore_are_left_out(project: Path) -> None:
    write(project / ".hidden" / "x.py")
    write(project / "__pycache__" / "x.py")
    write(project / "venv" / "pyvenv.cfg", "home = /usr\n")
    write(project / "venv" / "lib" / "site.py")
    write(project / "store" / "x.py")
    selection = select_files(project / "flow.py", exclude=[str(project / "store")])
    got = [f.name for f in selection.files]
    assert not [n for n in got if n.startswith((".hidden", "__pycache__", "venv", "store"))]
    reasons = {s.name: s.reason for s in selection.skipped}
    assert reasons["venv/"] == "a virtual environment"
    assert reasons["store/"] == "the datastore root"


def test_other_datastores_in_the_directory_are_left_out(project: Path) -> None:
    """A folder holding metadata.db is a local datastore (another run's
    --datastore-root): data, never code, and not worth walking."""
    write(project / "old-store" / "metadata.db", "")
    write(project / "old-store" / "Flow" / "1" / "start" / "1" / "x.py")
    selection = select_files(project / "flow.py")
    assert not [f.name for f in selection.files if f.name.startswith("old-store")]
    assert {s.name: s.reason for s in selection.skipped}["old-store/"] == (
        "a grange datastore (it holds metadata.db)"
    )


def test_reserved_names_at_the_top_are_left_out(project: Path) -> None:
    write(project / "grange" / "__init__.py")
    write(project / "INFO.json", "{}")
    write(project / "sub" / "grange" / "x.py")  # only the top is reserved
    selection = select_files(project / "flow.py", [".json"])
    got = [f.name for f in selection.files]
    assert "grange/__init__.py" not in got and "INFO.json" not in got
    assert "sub/grange/x.py" in got
    assert {"grange", "INFO.json"} <= {s.name for s in selection.skipped}


def test_symlinks_inside_followed_outside_skipped_and_named(project: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "secret.py")
    os.symlink(outside, project / "secret.py")
    os.symlink(project / "helpers.py", project / "alias.py")
    os.symlink(project / "lib", project / "lib2")
    os.symlink(project, project / "lib" / "loop")  # a cycle
    selection = select_files(project / "flow.py")
    got = [f.name for f in selection.files]
    assert "alias.py" in got and "lib2/model.py" in got
    assert "secret.py" not in got
    reasons = {s.name: s.reason for s in selection.skipped}
    assert reasons["secret.py"] == f"a link to {outside}, outside the flow's directory"
    assert "lib/loop" in reasons


def test_a_flow_file_that_is_a_link_outside_is_refused(tmp_path: Path) -> None:
    real = write(tmp_path / "real" / "flow.py", FLOW)
    (tmp_path / "other").mkdir()
    os.symlink(real, tmp_path / "other" / "flow.py")
    with pytest.raises(CommandError, match="outside its directory"):
        select_files(tmp_path / "other" / "flow.py")


def test_a_missing_flow_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist or is not a file"):
        select_files(tmp_path / "nope.py")


def test_an_unreadable_file_is_refused_by_name(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_access = os.access
    blocked = str(project / "lib" / "model.py")
    monkeypatch.setattr(
        select.os, "access", lambda p, mode: False if str(p) == blocked else real_access(p, mode)
    )
    with pytest.raises(CommandError, match=r"cannot read .*lib/model.py") as info:
        select_files(project / "flow.py")
    assert ".grangeignore" in (info.value.fix or "")
