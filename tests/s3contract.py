"""The BlobStore contract tests of tests/unit, for the S3 test modules to run again.

``contract_tests()`` returns the unit module's tests that take only a
``blobs`` store (the ones about the local disk itself are left out), so that a
module defining its own ``blobs`` fixture runs them against its store.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

UNIT = Path(__file__).parent / "unit" / "test_datastore_backend.py"
#: Tests of the contract that say how memory and local stores name themselves.
NOT_CONTRACT = {"test_url_and_describe_say_where"}


def contract_tests() -> dict[str, Callable[..., Any]]:
    spec = importlib.util.spec_from_file_location("grange_blobstore_contract", UNIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = {}
    for name, fn in vars(module).items():
        if not name.startswith("test_") or name in NOT_CONTRACT or not callable(fn):
            continue
        params = inspect.signature(fn).parameters
        if "blobs" in params and set(params) <= {"blobs", "tmp_path", "key"}:
            tests[name] = fn
    return tests
