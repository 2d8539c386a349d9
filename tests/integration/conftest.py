"""Running the flows of tests/flows/run the way a user does, and reading them back.

``runner`` runs ``python FLOW.py COMMAND ...`` in the test's temporary
directory with ``GRANGE_DATASTORE_ROOT`` pointing at ``.grange`` there, and
points the client API at that store with every namespace visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grange import default_metadata, default_namespace, metadata, namespace
from support import Runner


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    """A :class:`Runner` in ``tmp_path``; the client reads its store, every namespace."""
    r = Runner(tmp_path)
    metadata(f"local@{r.root}")
    namespace(None)
    yield r
    default_namespace()
    default_metadata()


@pytest.fixture(params=[True, False], ids=["fork", "no-fork"])
def fork(request: pytest.FixtureRequest) -> bool:
    """Both task launchers: forked from the pre-warmed server, and fresh interpreters."""
    return bool(request.param)
