"""grange ui stays fast without timing it: the SQL a page runs, and the rows it fetches, are
counted, and must not grow with the runs of a flow or the tasks of a run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flow_runs import run_flow
from grange.metastore import MetadataStore
from grange.metastore.store import MetadataStore as BaseStore
from ui_support import FLOW, UI_FLOWS, browser, fill, stores_at, ui_server

PER_PAGE = 50


@dataclass
class Counts:
    statements: list[str] = field(default_factory=list)
    rows: int = 0
    rows_by_statement: list[int] = field(default_factory=list)

    def fetched(self, index: int, rows: int) -> None:
        self.rows += rows
        self.rows_by_statement[index] += rows


class _CountingCursor:
    def __init__(self, cursor: Any, counts: Counts) -> None:
        self._cursor, self._counts = cursor, counts
        self._index = len(counts.statements) - 1

    def fetchone(self) -> Any:
        row = self._cursor.fetchone()
        self._counts.fetched(self._index, row is not None)
        return row

    def fetchall(self) -> Any:
        rows = self._cursor.fetchall()
        self._counts.fetched(self._index, len(rows))
        return rows

    def fetchmany(self, *args: Any) -> Any:
        rows = self._cursor.fetchmany(*args)
        self._counts.fetched(self._index, len(rows))
        return rows

    def __iter__(self) -> Iterator[Any]:
        for row in self._cursor:
            self._counts.fetched(self._index, 1)
            yield row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _CountingConnection:
    def __init__(self, connection: Any, counts: Counts) -> None:
        self._connection, self._counts = connection, counts

    def execute(self, sql: str, *args: Any) -> _CountingCursor:
        self._counts.statements.append(" ".join(sql.split()))
        self._counts.rows_by_statement.append(0)
        return _CountingCursor(self._connection.execute(sql, *args), self._counts)

    def executemany(self, sql: str, *args: Any) -> Any:
        self._counts.statements.append(" ".join(sql.split()))
        self._counts.rows_by_statement.append(0)
        return self._connection.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def _store_classes() -> list[type]:
    found, todo = [], [BaseStore]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    """Every statement the metadata store runs (reads and writes) and every row fetched."""
    counts = Counts()
    for cls in _store_classes():
        for name in ("_read", "_write"):
            if name not in vars(cls):
                continue
            original = vars(cls)[name]

            def wrapped(self: Any, _original: Any = original) -> Any:
                @contextmanager
                def opened() -> Iterator[_CountingConnection]:
                    with _original(self) as connection:
                        yield _CountingConnection(connection, counts)

                return opened()

            monkeypatch.setattr(cls, name, wrapped)
    yield counts
    monkeypatch.undo()


def _runs_page(root: Path, monkeypatch: pytest.MonkeyPatch, **params: Any) -> Counts:
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        client.get(f"/flows/{FLOW}", params=params).raise_for_status()  # warm: caches, schema
        with counting(monkeypatch) as counts:
            page = client.get(f"/flows/{FLOW}", params=params)
        page.raise_for_status()
    assert 'data-testid="run-row"' in page.text
    return counts


def _filled(tmp_path: Path, name: str, runs: int) -> Path:
    root = tmp_path / name / ".grange"
    root.mkdir(parents=True)
    fill(MetadataStore.at_root(root), runs)
    return root


def test_runs_page_reads_one_page_whatever_the_number_of_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1,000 runs: every filter below still fills a page, so the two pages compare
    small, big = _filled(tmp_path, "small", 1_000), _filled(tmp_path, "big", 10_000)
    for params in (
        {"per_page": PER_PAGE},
        {"per_page": PER_PAGE, "page": 3},
        {"per_page": PER_PAGE, "user": "bob", "status": "failed"},
        {"per_page": PER_PAGE, "tag": "tenth"},
    ):
        few = _runs_page(small, monkeypatch, **params)
        many = _runs_page(big, monkeypatch, **params)
        assert len(many.statements) == len(few.statements), (params, many.statements)
        assert len(many.statements) <= 10, many.statements
        # a page of runs and their tags (at most 2 each here), read twice (once for the
        # page, once for the digest its live stream starts from), and a few counts:
        # never 10,000 runs
        assert many.rows <= PER_PAGE * 6 + 10, (params, many.rows, many.statements)
        assert many.rows <= few.rows + 10, (params, many.rows, few.rows)


def _run_page(root: Path, run_id: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Counts, str]:
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        url = f"/flows/UiShapesFlow/runs/{run_id}"
        client.get(url).raise_for_status()
        with counting(monkeypatch) as counts:
            page = client.get(url)
        page.raise_for_status()
    return counts, page.text


@pytest.mark.slow
def test_run_page_statements_do_not_grow_with_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / ".grange"
    narrow = run_flow(UI_FLOWS / "shapes.py", "--width", "10", root=root, user="ada")
    wide = run_flow(UI_FLOWS / "shapes.py", "--width", "1000", root=root, user="ada")
    few, few_page = _run_page(root, narrow, monkeypatch)
    many, many_page = _run_page(root, wide, monkeypatch)
    assert 'data-testid="task-count">1006<' in many_page
    assert 'data-testid="task-count">16<' in few_page
    assert len(many.statements) == len(few.statements), many.statements
    # the page's reads and the digest its live stream starts from: a constant number
    assert len(many.statements) <= 30, many.statements
    # rows: per-step summaries (a row per step) and the timeline, which draws at most 300
    # attempts one by one: bounded, however many tasks the run has
    detail = list(zip(many.rows_by_statement, many.statements, strict=True))
    assert many.rows <= 400, detail
    assert max(many.rows_by_statement) <= 300, detail
