"""The code package: the flow's directory and grange itself, packed deterministically.

``PackageRef`` is what a run records about its package (in its claim's
``extra["code_package"]``) and what a pod is told (``GRANGE_CODE_PACKAGE_*``):
where the bytes are, their sha256, and the flow file's path inside the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PackageRef:
    """Where a code package is stored and how to run from it."""

    url: str  # the blob's full location: an s3:// URL or an absolute local path
    sha: str  # sha256 of the package's bytes, hex
    flow_file: str  # the flow file's path inside the package, e.g. "flows/train.py"
    size: int = 0
    grange_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "sha": self.sha,
            "flow_file": self.flow_file,
            "size": self.size,
            "grange_version": self.grange_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageRef:
        return cls(
            url=str(data["url"]),
            sha=str(data["sha"]),
            flow_file=str(data["flow_file"]),
            size=int(data.get("size") or 0),
            grange_version=str(data.get("grange_version") or ""),
        )
