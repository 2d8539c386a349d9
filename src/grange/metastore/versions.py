"""The schema version this grange writes, and the refusal of a newer one.

Kept free of SQLAlchemy so that opening an up-to-date SQLite store (see
:mod:`grange.metastore.sqlite_store`) can check the version without it;
:data:`grange.metastore.migrations.LATEST` must equal :data:`SCHEMA_VERSION`
(a test checks).
"""

from __future__ import annotations

from typing import Final

from grange.exceptions import MetadataError

SCHEMA_VERSION: Final = 3
"""The latest version of the metadata schema (the last migration's number)."""


def refuse_newer(version: int, latest: int = SCHEMA_VERSION) -> None:
    """Raise a :class:`MetadataError` if ``version`` is newer than this grange knows."""
    if version > latest:
        raise MetadataError(
            f"this store was written by a newer grange (metadata schema version "
            f"{version}; this grange knows versions up to {latest}); upgrade",
            fix="pip install --upgrade grange",
        )
