"""Installing a conda lock with an external program: ``[environments] conda_tool =
"micromamba"`` or ``"conda"`` (the default, ``"rattler"``, installs in-process).

The lock is still solved by py-rattler (one lock format whatever the tool); the tool
only installs it, from an explicit spec file (``@EXPLICIT`` and one
``<url>#<md5>`` line per package: no solving), with ``--offline`` when the profile
says so:

    micromamba create --yes --quiet -p <target> --file <explicit.txt> [--offline]
    conda create --yes --quiet -p <target> --file <explicit.txt> [--offline]

micromamba gets ``CONDA_PKGS_DIRS=<cache>/conda-pkgs-micromamba`` (conda its own
cache: ``conda`` keeps its configuration's). The program must be on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from grange.decorators.options import EnvSpec
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

TOOLS = ("micromamba", "conda")
KNOWN = ("rattler", *TOOLS)


def check(settings: EnvSettings, spec: EnvSpec | None = None) -> str | None:
    """The path of the configured tool (None for rattler); an EnvError when the
    setting is unknown or the program is not on PATH."""
    tool = settings.conda_tool
    place: dict[str, Any] = {}
    if spec is not None:
        place = {"file": spec.file, "line": spec.line, "step": spec.step or None}
    if tool not in KNOWN:
        raise EnvError(
            f"[environments] conda_tool = {tool!r} is not one of {', '.join(KNOWN)}",
            fix='set conda_tool to "rattler" (the default), "micromamba" or "conda"',
            **place,
        )
    if tool == "rattler":
        return None
    path = shutil.which(tool)
    if path is None:
        raise EnvError(
            f"[environments] conda_tool = {tool!r}, but {tool} is not on PATH",
            fix=f"install {tool} and put it on PATH, or remove conda_tool from the profile "
            "to install with py-rattler",
            **place,
        )
    return path


def explicit_file(records: list[Any]) -> str:
    """The lock's packages as a conda explicit spec file (no solving on install)."""
    lines = ["# grange: the packages of a conda lock", "@EXPLICIT"]
    for record in records:
        url = str(record.url)
        lines.append(f"{url}#{record.md5.hex()}" if record.md5 else url)
    return "\n".join(lines) + "\n"


def command(settings: EnvSettings, program: str, target: Path, explicit: Path) -> list[str]:
    cmd = [program, "create", "--yes", "--quiet", "-p", str(target), "--file", str(explicit)]
    if settings.offline:
        cmd.append("--offline")
    return cmd


def install(settings: EnvSettings, records: list[Any], target: Path) -> None:
    """Install ``records`` into ``target`` with the configured program."""
    program = check(settings)
    assert program is not None
    tool = settings.conda_tool
    env = dict(os.environ)
    if tool == "micromamba":
        env["CONDA_PKGS_DIRS"] = str(settings.cache_dir / "conda-pkgs-micromamba")
        env["MAMBA_NO_BANNER"] = "1"
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()  # micromamba refuses an existing folder that is no conda prefix
    with tempfile.TemporaryDirectory(prefix="grange-conda-") as tmp:
        explicit = Path(tmp) / "explicit.txt"
        explicit.write_text(explicit_file(records))
        cmd = command(settings, program, target, explicit)
        try:
            done = subprocess.run(
                cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
            )
        except OSError as err:
            raise EnvError(
                f"cannot run {tool} ({program}): {err}",
                fix=f"check the {tool} installation, or remove conda_tool from the profile",
            ) from None
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise EnvError(
            f"{tool} failed to install the conda environment (exit {done.returncode}): "
            f"{' '.join(cmd[:2])} ... {output}",
            fix=f"read {tool}'s message above; remove conda_tool from the profile to "
            "install with py-rattler",
        )
