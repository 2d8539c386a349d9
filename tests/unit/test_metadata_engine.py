"""Engines and URLs of the metadata store, and the layer's import rule."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from grange.exceptions import MetadataError
from grange.metastore import SCHEMA_VERSION, MetadataStore, migrations, sqlite_url
from grange.metastore.engine import get_engine, normalize_url
from grange.metastore.sql_store import SqlAlchemyStore
from grange.metastore.sqlite_store import SqliteStore

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "grange" / "metastore"


def test_sqlite_url_is_metadata_db_under_the_root(tmp_path: Path) -> None:
    assert sqlite_url(tmp_path) == f"sqlite:///{tmp_path.resolve()}/metadata.db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h:5/db", "postgresql+psycopg://u@h:5/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////x/metadata.db", "sqlite:////x/metadata.db"),
    ],
)
def test_postgres_urls_go_to_psycopg(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_an_unsupported_database_is_a_clear_error() -> None:
    with pytest.raises(MetadataError, match="unsupported metadata database") as caught:
        MetadataStore.from_url("mysql://user:secret@host/db")
    assert "secret" not in caught.value.render()
    assert "postgresql://" in caught.value.render()


def test_one_engine_per_url_per_process(sqlite_store: SqlAlchemyStore) -> None:
    url = str(sqlite_store.engine.url)
    assert get_engine(url) is sqlite_store.engine
    assert SqlAlchemyStore.open(url).engine is sqlite_store.engine


def test_from_url_opens_an_up_to_date_sqlite_file_with_sqlite3(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    SqlAlchemyStore.open(url).engine.dispose()  # created and migrated by SQLAlchemy
    reopened = MetadataStore.from_url(url)
    assert isinstance(reopened, SqliteStore)
    assert reopened.path == tmp_path.resolve() / "metadata.db"
    reopened.close()


def test_the_schema_versions_agree() -> None:
    assert migrations.LATEST == SCHEMA_VERSION


def test_the_layer_imports_only_sqlalchemy_and_itself() -> None:
    """Metadata knows nothing of artifact bytes, graphs, the runtime, click or rich."""
    allowed_grange = {"grange.exceptions"}
    stdlib = set(sys.stdlib_module_names)
    assert len(list(PACKAGE.glob("*.py"))) > 5, PACKAGE  # the package is where we look
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in stdlib
                    or top == "sqlalchemy"
                    or name in allowed_grange
                    or name.startswith("grange.metastore")
                )
                assert ok, f"{path.name} imports {name}"


def test_modules_stay_small() -> None:
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 350, path.name
