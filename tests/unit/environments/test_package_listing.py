"""The file list of a flow's directory is kept between runs, and never used stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grange.environments import listing, select
from grange.environments.select import select_files

OLD = 1_000_000_000  # 2001: every path's mtime, so that any change shows in its stamp


class Later:
    """``time`` as seen a minute from now: every path has settled."""

    @staticmethod
    def time() -> float:
        import time

        return time.time() + 60


def age(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (OLD, OLD))
        os.utime(folder, (OLD, OLD))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRANGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(listing, "time", Later)
    root = tmp_path / "repo" / "project"
    (root / "lib").mkdir(parents=True)
    (root / "flow.py").write_text("from grange import FlowSpec\n")
    (root / "lib" / "model.py").write_text("W = 2\n")
    (root / ".grangeignore").write_text("scratch.py\n")
    age(tmp_path / "repo")
    return root


def names(project: Path) -> list[str]:
    return [f.name for f in select_files(project / "flow.py").files]


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The directories walked from here on (none when the kept list is used)."""
    seen: list[str] = []
    real = select._Walker.walk

    def walk(self: select._Walker, folder: str, *args: object) -> None:
        seen.append(folder)
        real(self, folder, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(select._Walker, "walk", walk)
    return seen


def test_an_unchanged_directory_is_not_walked_again(project: Path, walks: list[str]) -> None:
    first = select_files(project / "flow.py")
    assert walks
    walks.clear()
    again = select_files(project / "flow.py")
    assert walks == []
    assert again.files == first.files and again.skipped == first.skipped


def walked_afresh(project: Path) -> list[str]:
    """The list from a walk no kept list can answer."""
    fresh = select.Selection(project, "flow.py", (".py",))
    walker = select._Walker(fresh, os.path.realpath(project), set())
    walker.walk(str(project), "", select._outer_ignores(project, {}), set())
    return sorted({f.name for f in fresh.files} | {"flow.py"})


CHANGES = {
    "a new file deep down": lambda p: (p / "lib" / "extra.py").write_text(""),
    "a file removed": lambda p: (p / "lib" / "model.py").unlink(),
    "an ignore file edited": lambda p: (p / ".grangeignore").write_text("lib/\n"),
    "an ignore file added": lambda p: (p / "lib" / ".gitignore").write_text("model.py\n"),
    "a virtualenv now": lambda p: (p / "lib" / "pyvenv.cfg").write_text(""),
    "in a repository now": lambda p: (p.parent / ".git").mkdir(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_that_decides_the_list_is_seen(
    project: Path, walks: list[str], change: str
) -> None:
    (project.parent / ".gitignore").write_text("lib/\n")  # read once .git is there
    age(project.parent)
    select_files(project / "flow.py")
    CHANGES[change](project)
    walks.clear()
    got = names(project)
    assert walks  # walked again
    assert got == walked_afresh(project)


def test_a_gitignore_above_outside_any_repository_changes_nothing(
    project: Path, walks: list[str]
) -> None:
    first = names(project)
    (project.parent / ".gitignore").write_text("*.py\n")
    walks.clear()
    assert names(project) == first == walked_afresh(project)


def test_a_file_edited_in_place_is_stat_ed_afresh(project: Path, walks: list[str]) -> None:
    select_files(project / "flow.py")
    (project / "lib" / "model.py").write_text("W = 3  # longer\n")
    walks.clear()
    again = select_files(project / "flow.py")
    assert walks == []  # the list holds, the file's own stamp is new
    model = next(f for f in again.files if f.name == "lib/model.py")
    assert model.size == len("W = 3  # longer\n")


def test_a_fresh_directory_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, walks: list[str]
) -> None:
    monkeypatch.setenv("GRANGE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "flow.py").write_text("")
    select_files(tmp_path / "p" / "flow.py")  # changed just now: maybe within one tick
    assert not list((tmp_path / "cache").glob("code/list-*"))


def test_a_damaged_kept_list_means_a_walk(project: Path, walks: list[str], tmp_path: Path) -> None:
    first = names(project)
    for kept in (tmp_path / "cache" / "code").glob("list-*.json"):
        kept.write_text("{not json")
    walks.clear()
    assert names(project) == first and walks
