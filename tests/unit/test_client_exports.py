"""The client names are exported from ``grange`` lazily, and ``metadata`` is the function.

Each check runs in a fresh interpreter: what is already imported decides the
outcome, so the test process itself (which imports everything) cannot tell.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_client_is_imported_on_first_use_only() -> None:
    result = _python(
        """
        import sys, grange
        assert "grange.client" not in sys.modules and "sqlalchemy" not in sys.modules
        assert "Flow" in dir(grange) and "metadata" in dir(grange)
        flow = grange.Flow
        assert "grange.client" in sys.modules
        from grange.client import Flow
        assert flow is Flow
        """
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "first",
    [
        "import grange.metastore",
        "from grange.metastore import MetadataStore",
        "import grange.client",
    ],
)
def test_grange_metadata_is_the_function_whatever_was_imported_first(first: str) -> None:
    result = _python(
        f"""
        {first}
        import grange
        from grange import metadata
        from grange.client import metadata as function
        assert metadata is function and grange.metadata is function, metadata
        from grange.metastore import MetadataStore  # the index package has its own name
        """
    )
    assert result.returncode == 0, result.stderr


def test_unknown_attributes_still_raise() -> None:
    result = _python("import grange; grange.Flw")
    assert "module 'grange' has no attribute 'Flw'" in result.stderr
