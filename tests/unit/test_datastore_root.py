"""Where the datastore root is: flag, then environment, then the nearest .grange/."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.datastore import find_datastore_root
from grange.datastore.root import ENV_VAR


def test_defaults_to_dot_grange_in_start_without_creating_it(tmp_path: Path) -> None:
    assert find_datastore_root(tmp_path, None, {}) == tmp_path / ".grange"
    assert not (tmp_path / ".grange").exists()


def test_finds_the_nearest_existing_dot_grange_walking_up(tmp_path: Path) -> None:
    (tmp_path / ".grange").mkdir()
    nested = tmp_path / "project" / "src" / "flows"
    nested.mkdir(parents=True)
    assert find_datastore_root(nested, None, {}) == tmp_path / ".grange"
    (tmp_path / "project" / ".grange").mkdir()
    assert find_datastore_root(nested, None, {}) == tmp_path / "project" / ".grange"


def test_a_file_named_dot_grange_is_not_a_root(tmp_path: Path) -> None:
    nested = tmp_path / "a"
    nested.mkdir()
    (nested / ".grange").write_text("not a directory")
    (tmp_path / ".grange").mkdir()
    assert find_datastore_root(nested, None, {}) == tmp_path / ".grange"


def test_environment_beats_discovery_and_flag_beats_environment(tmp_path: Path) -> None:
    (tmp_path / ".grange").mkdir()
    env = {ENV_VAR: str(tmp_path / "from-env")}
    assert find_datastore_root(tmp_path, None, env) == tmp_path / "from-env"
    assert find_datastore_root(tmp_path, str(tmp_path / "flag"), env) == tmp_path / "flag"


def test_relative_and_home_paths_and_empty_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert find_datastore_root(tmp_path, "store", {}) == tmp_path / "store"
    assert find_datastore_root(tmp_path, None, {ENV_VAR: "rel/store"}) == tmp_path / "rel" / "store"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_datastore_root(tmp_path, "~/ds", {}) == tmp_path / "home" / "ds"
    assert find_datastore_root(tmp_path, "", {ENV_VAR: ""}) == tmp_path / ".grange"


def test_result_is_absolute_for_a_relative_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_datastore_root(Path("."), None, {}) == tmp_path / ".grange"
