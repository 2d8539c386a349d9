"""Helpers shared by the tests: load flow files from tests/flows by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FLOWS = Path(__file__).parent / "flows"


def load_module(path: Path) -> ModuleType:
    """Import a flow file by path (its directory on sys.path, for its own imports)."""
    name = f"_grange_test_{path.parent.name}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_flow(path: Path, name: str | None = None) -> type:
    """The FlowSpec subclass defined in ``path`` (the one named ``name``, if given)."""
    from grange import FlowSpec

    module = load_module(path)
    flows = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, FlowSpec) and v.__module__ == module.__name__
    ]
    if name is not None:
        flows = [f for f in flows if f.__name__ == name]
    assert len(flows) == 1, f"expected one flow in {path}, found {flows}"
    return flows[0]
