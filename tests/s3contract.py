"""Unit tests of the datastore over a ``blobs`` store, for the S3 test modules to run again.

``store_tests(module)`` returns the tests of ``tests/unit/<module>.py`` that use
the ``blobs`` store (directly or through its ``cas`` fixture), and that
module's other fixtures, so that a module defining its own ``blobs`` fixture
runs them against its store. Tests about one backend's own details (the local
disk's files, how memory names itself) are left out.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

UNIT = Path(__file__).parent / "unit"
#: Tests of the contract that say how memory and local stores name themselves.
NOT_CONTRACT = {"test_url_and_describe_say_where"}
USES_STORE = {"blobs", "cas"}


def store_tests(module: str, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    path = UNIT / f"{module}.py"
    spec = importlib.util.spec_from_file_location(f"grange_s3_contract_{module}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded  # its classes pickle by reference
    spec.loader.exec_module(loaded)
    out: dict[str, Any] = {}
    for name, obj in vars(loaded).items():
        if name == "blobs" or name in NOT_CONTRACT or name in skip:
            continue
        if name.startswith("test_"):
            if callable(obj) and USES_STORE & set(inspect.signature(obj).parameters):
                out[name] = obj
        elif _is_fixture(obj):
            out[name] = obj
    return out


def _is_fixture(obj: object) -> bool:
    return type(obj).__name__ == "FixtureFunctionDefinition" or hasattr(
        obj, "_pytestfixturefunction"
    )
