"""How ``grange`` exports the client API without importing it up front.

``import grange`` must stay fast and free of SQLAlchemy, so the client names
(``Flow``, ``Run``, ``namespace``, ...) are resolved on first access by
:class:`GrangeModule`, the class the ``grange`` package module is switched to
(a module may change its ``__class__``; see the Python data model, "Customizing
module attribute access").

The same class keeps ``grange.metadata`` the public ``metadata()`` function:
loading the subpackage ``grange.metadata`` (the metadata index) makes Python
bind it as the package's attribute ``metadata``, which would hide the function
for every later ``from grange import metadata``. That binding is dropped. The
subpackage stays importable by name (``from grange.metadata import
MetadataStore``); only ``import grange.metadata.x as y`` does not work.
"""

from __future__ import annotations

import types
from typing import Any

CLIENT_NAMES = frozenset(
    {
        "DataArtifact", "Flow", "Metaflow", "Run", "Step", "Task", "default_metadata",
        "default_namespace", "get_metadata", "get_namespace", "metadata", "namespace",
    }
)  # fmt: skip


class GrangeModule(types.ModuleType):
    """The ``grange`` package module: lazy client names, ``metadata`` kept a function."""

    def __getattr__(self, name: str) -> Any:
        if name not in CLIENT_NAMES:
            raise AttributeError(f"module 'grange' has no attribute {name!r}")
        import grange.client as client

        for exported in CLIENT_NAMES:
            self.__dict__[exported] = getattr(client, exported)
        return self.__dict__[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "metadata" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(self.__dict__) | CLIENT_NAMES)
