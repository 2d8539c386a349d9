"""``python flow.py card get|view|list`` as a user types them, in a project folder
whose store is ``.grange/`` beside the flow files."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from flow_runs import clean_env, python
from support import FLOWS


@dataclass(frozen=True)
class Project:
    folder: Path

    def flow(self, name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return python(
            self.folder / name, *args, cwd=self.folder, env=clean_env(GRANGE_USER="ada", **env),
            check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    folder = tmp_path_factory.mktemp("cards")
    for name in ("card_components.py", "card_foreach.py"):
        shutil.copy(FLOWS / "cards" / name, folder / name)
    proj = Project(folder)
    for name, args in (("card_components.py", ()), ("card_foreach.py", ("--with", "card"))):
        result = proj.flow(name, *args, "run")
        assert result.returncode == 0, result.stdout + result.stderr
    return proj


def no_traceback(result: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in result.stdout + result.stderr


def test_get_prints_or_writes_a_card(project: Project) -> None:
    shown = project.flow("card_components.py", "card", "get", "start")
    assert shown.returncode == 0, shown.stderr
    assert "Only card of start" in shown.stdout and "<html" in shown.stdout.lower()
    target = project.folder / "notes.html"
    saved = project.flow("card_components.py", "card", "get", "1/end", str(target), "--id", "notes")
    assert saved.returncode == 0, saved.stderr
    assert "a note for the notes card" in target.read_text()
    typed = project.flow("card_components.py", "card", "get", "1/end/2", "--type", "default")
    assert typed.returncode == 0 and "appended without an id" in typed.stdout


def test_get_asks_which_card_when_several_match(project: Project) -> None:
    result = project.flow("card_components.py", "card", "get", "end")
    assert result.returncode == 2 and no_traceback(result)
    assert "has 3 cards that match" in result.stderr
    assert "--id notes" in result.stderr


def test_list_shows_every_card_of_a_step_or_run(project: Project) -> None:
    listed = project.flow("card_foreach.py", "card", "list", "each")
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "CardForeachFlow/1/each/" in line]
    assert len(rows) == 3 and all("default" in row and " ok " in row for row in rows)
    as_json = project.flow("card_foreach.py", "card", "list", "--as-json")
    cards = json.loads(as_json.stdout)
    assert sorted({c["pathspec"].split("/")[2] for c in cards}) == ["each", "end", "join", "start"]
    assert {"index", "type", "id", "pathspec", "status", "hash", "path"} <= set(cards[0])


def test_get_of_a_step_with_several_tasks_takes_the_first(project: Project) -> None:
    result = project.flow("card_foreach.py", "card", "get", "1/each")
    assert result.returncode == 0, result.stderr
    assert "has 3 tasks: showing the cards of the first" in result.stderr


def test_view_writes_a_file_and_opens_it(project: Project, tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    browser = f"sh -c 'echo %s > {opened}'"
    result = project.flow("card_components.py", "card", "view", "start", BROWSER=browser)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.suffix == ".html" and "Only card of start" in path.read_text()
    # webbrowser runs BROWSER in the background: wait for it to have written
    for _ in range(200):
        if opened.exists() and opened.read_text().strip():
            break
        subprocess.run(["sleep", "0.05"], check=True)
    assert opened.read_text().strip() == f"file://{path}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("get", "nostep"), "the latest run CardComponentsFlow/1 has no step 'nostep'"),
        (("get", "9/end"), "CardComponentsFlow/9"),
        (("get", "1/end", "--id", "zz"), "has no card with id zz"),
        (("list", "a/b/c/d/e"), "expected STEP, RUN/STEP or RUN/STEP/TASK"),
    ],
)
def test_errors_are_clear(project: Project, args: tuple[str, ...], message: str) -> None:
    result = project.flow("card_components.py", "card", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and no_traceback(result)


def test_a_step_without_cards_says_how_to_get_one(project: Project, tmp_path: Path) -> None:
    shutil.copy(FLOWS / "cards" / "card_foreach.py", tmp_path / "card_foreach.py")
    plain = Project(tmp_path)
    assert plain.flow("card_foreach.py", "run").returncode == 0
    result = plain.flow("card_foreach.py", "card", "view", "start")
    assert result.returncode == 2 and no_traceback(result)
    assert "CardForeachFlow/1/start/1 has no cards" in result.stderr
    assert "--with card" in result.stderr


@pytest.mark.parametrize(
    ("target", "reason"),
    [("/nonexistent/dir/x.html", "No such file or directory"), ("/dev/full", "No space left")],
)
def test_get_to_a_file_it_cannot_write_names_the_file(
    project: Project, target: str, reason: str
) -> None:
    if not Path(target).parent.exists() and target == "/dev/full":
        pytest.skip("no /dev/full")
    result = project.flow("card_components.py", "card", "get", "start", target)
    assert result.returncode != 0 and no_traceback(result)
    assert f"to {target}" in result.stderr and reason in result.stderr
    assert "bug in grange" not in result.stderr


def test_two_cards_with_one_id_are_told_apart_by_type(project: Project, tmp_path: Path) -> None:
    # Two cards of one id cannot be made any more (a run with them does not start), but
    # a store may hold them: --id alone cannot choose, so the fix names --type.
    from grange.datastore import LocalBlobStore, TaskPaths
    from grange.datastore.cards import write_card

    blobs = LocalBlobStore(project.folder / ".grange")
    paths = TaskPaths("CardComponentsFlow", "1", "start", "1", 0)
    for slot in ("5-default-twin", "6-blank-twin"):
        write_card(blobs, paths, slot, b"<html>twin</html>", status="ok", created_at=0,
                   render_seconds=0)  # fmt: skip
    result = project.flow("card_components.py", "card", "get", "1/start/1", "--id", "twin")
    assert result.returncode == 2 and no_traceback(result)
    assert "has 2 cards that match" in result.stderr
    assert "--type default" in result.stderr and "--id twin" not in result.stderr.split("Fix")[-1]
