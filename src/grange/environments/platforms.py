"""Platforms of step environments: this machine's in uv's ``--python-platform`` names,
the same platform in uv's and conda's naming, and whether a lock for a platform can be
built here (re-exported by :mod:`grange.environments.manager`)."""

from __future__ import annotations

import os
import platform as _platform
import re


def host_platform() -> str:
    """This machine in uv's ``--python-platform`` names: ``x86_64-manylinux_2_28`` on
    Linux (``_2_17`` under an older glibc, ``-unknown-linux-musl`` without one),
    ``aarch64-apple-darwin`` on a Mac; ``""`` elsewhere (uv's own guess)."""
    arch = _arch()
    system = _platform.system()
    if system == "Linux":
        glibc = _glibc()
        if glibc is None:
            return f"{arch}-unknown-linux-musl"
        return f"{arch}-manylinux_2_28" if glibc >= (2, 28) else f"{arch}-manylinux_2_17"
    if system == "Darwin":
        return f"{arch}-apple-darwin"
    return ""


_CONDA_TO_UV = {
    "linux-64": "x86_64-manylinux_2_28",
    "linux-aarch64": "aarch64-manylinux_2_28",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
}


def pypi_platform(platform: str | None) -> str:
    """uv's name for ``platform`` given in either naming (None: this machine's)."""
    if platform is None:
        return host_platform()
    return _CONDA_TO_UV.get(platform, platform)


def conda_platform(platform: str | None) -> str:
    """A conda subdir (``linux-64``) for ``platform`` in either naming (None: this
    machine's)."""
    name = host_platform() if platform is None else platform
    arch = name.split("-", 1)[0]
    if "linux" in name and name.startswith(("x86_64", "aarch64", "ppc64le")):
        return {"x86_64": "linux-64", "aarch64": "linux-aarch64"}.get(arch, "linux-ppc64le")
    if name.endswith("apple-darwin"):
        return "osx-arm64" if arch == "aarch64" else "osx-64"
    return name


def buildable_here(platform: str) -> bool:
    """Whether a @pypi lock for ``platform`` installs on this machine."""
    host = host_platform()
    if platform in ("", host):
        return True
    match = re.match(r"^(\w+)-manylinux_(\d+)_(\d+)$", platform)
    glibc = _glibc()
    if match and host.startswith(f"{match[1]}-manylinux") and glibc is not None:
        return (int(match[2]), int(match[3])) <= glibc
    return False


def _arch() -> str:
    machine = _platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _glibc() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError, AttributeError):
        return None
    match = re.match(r"^glibc (\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None
