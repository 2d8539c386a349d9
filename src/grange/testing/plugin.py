"""grange's pytest plugin (entry point ``pytest11``): fixtures for testing flows.

Loaded by every pytest session where grange is installed: imports nothing heavy
at module level (grange.testing's helpers load when a fixture is first used).
Turn it off with ``-p no:grange.testing.plugin``. The entry point is named by
the module's path, as pytest names a plugin that ``-p`` or ``pytest_plugins``
loads: loading it again that way is then a no-op (under another name, pytest
would register the module twice and stop the session).

``grange_store``: an isolated store for the test. Every ``GRANGE_*`` variable
is left out of the test's environment (but the cache folder and the user name),
``GRANGE_DATASTORE_ROOT`` points at ``<tmp_path>/.grange`` and ``GRANGE_CONFIG``
at an empty file, and the client reads that store: whatever the test runs
(``Runner``, ``python flow.py run``, ``run_flow``) and reads (``Flow(...)``)
goes there. All is put back after the test.

``grange_run``: ``grange_run(FlowClassOrPath, **params) -> Run``, ``run_flow``
into the test's ``grange_store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


class GrangeStore:
    """The test's own store: ``root`` (its folder), ``env`` (the variables set for
    it), and helpers reading it: ``flow(name)``, ``latest_run(name)``, ``run(...)``."""

    def __init__(self, root: Path, env: dict[str, str], stores: Any) -> None:
        self.root = root
        self.env = env
        self.stores = stores

    def run(self, flow: Any, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """``run_flow(flow, params, ...)`` into this store; the client's ``Run``."""
        from grange.testing.flow import run_flow

        return run_flow(flow, params, tmp_path=self.root.parent, **kwargs)

    def flow(self, name: str) -> Any:
        """The client's ``Flow`` ``name`` in this store (every run of it, any namespace)."""
        from grange.client import Flow

        return Flow(name, _namespace_check=False, _stores=self.stores, _namespace=None)

    def latest_run(self, name: str) -> Any:
        """The last run of flow ``name`` stored here (None if it has none)."""
        return self.flow(name).latest_run

    def __repr__(self) -> str:
        return f"GrangeStore({self.root})"


@pytest.fixture
def grange_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GrangeStore]:
    """An isolated grange store for the test, at ``tmp_path/.grange``: runs started in
    the test (``Runner``, ``python flow.py run``, ``grange_run``) go to it, and the
    client reads it."""
    import os

    from grange.client import config as client_config
    from grange.testing.flow import (
        KEPT_VARIABLES,
        SCRATCH_FOLDER,
        STORE_FOLDER,
        empty_config,
        isolated_env,
        store_stores,
    )

    root = tmp_path / STORE_FOLDER
    env = isolated_env(root, empty_config(tmp_path / SCRATCH_FOLDER), {})
    for name in [k for k in os.environ if k.startswith("GRANGE_") and k not in env]:
        if name not in KEPT_VARIABLES:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stores = store_stores(root)
    saved = client_config._settings.stores
    client_config._settings.stores = stores
    try:
        yield GrangeStore(root, env, stores)
    finally:
        client_config._settings.stores = saved


@pytest.fixture
def grange_run(grange_store: GrangeStore) -> Callable[..., Any]:
    """``grange_run(FlowClassOrPath, **params) -> Run``: run the flow to its end in the
    test's ``grange_store`` (a failed run returns its ``Run``, ``.successful`` False)."""

    def run(flow: Any, **params: Any) -> Any:
        return grange_store.run(flow, params)

    return run
