"""``python -m grange.environments.bootstrap``: run a task from its code package.

What a pod runs (the pod protocol, docs/code-package.md)::

    python -m grange.environments.bootstrap --package-url URL --package-sha SHA \\
        --flow-file REL -- [top-level options] step STEP [step options]

It downloads the package (a local path or an ``s3://`` URL; transient errors
are retried a few times), checks its sha256, unpacks it once per machine
(:mod:`grange.environments.unpack`), and replaces itself with
``python REL ARGS...`` run in the unpacked folder, with that folder first on
``PYTHONPATH`` (so the grange the package carries is the one imported, at the
exact version the run was started with) and ``GRANGE_CODE_PACKAGE_URL``,
``_SHA`` and ``_FLOW_FILE`` set. A missing or damaged package, or a datastore
it cannot read, ends it with one line on stderr and exit status 2.

Its imports are kept light: a pod pays for them on every task.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from grange.environments.package import (
    ENV_FLOW_FILE,
    ENV_SHA,
    ENV_URL,
    PackageRef,
    check_package,
)
from grange.exceptions import DatastoreError, GrangeError, StoreAccessError

USAGE = (
    "usage: python -m grange.environments.bootstrap --package-url URL --package-sha SHA "
    "--flow-file REL -- ARGS..."
)
TRIES = 5
WAIT = 2.0  # seconds before the 2nd try, doubled each time
EXIT_ERROR = 2
#: Reasons of a StoreAccessError that a later try may not meet again.
TRANSIENT = frozenset({"unreachable", "throttled", "other"})
#: Local errors that trying again does not cure (others, an NFS hiccup, may pass).
PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class BootstrapError(GrangeError):
    """The package cannot be had, or the command line is wrong."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        ref, rest = parse(args)
        data = download(ref)
        from grange.environments.unpack import unpack, unpacked_dir

        try:
            folder = unpack(data, unpacked_dir(ref.sha))
        except (OSError, ValueError) as err:
            raise BootstrapError(
                f"cannot unpack the code package {ref.url} into {unpacked_dir(ref.sha)}: {err}",
                fix="set GRANGE_CODE_DIR to a folder this user may write to",
            ) from None
        flow = checked_flow_file(folder, ref.flow_file)
        warn_python(folder)
    except GrangeError as err:
        fix = f" Fix: {err.fix}" if err.fix else ""
        print(f"grange bootstrap: {err.message.rstrip('.')}.{fix}", file=sys.stderr)
        return EXIT_ERROR
    run(folder, flow, ref, rest)
    return 0  # not reached: run() replaces the process


def parse(args: list[str]) -> tuple[PackageRef, list[str]]:
    """The package's ref and the arguments after ``--``."""
    if "--" not in args:
        raise BootstrapError(f"no '--' before the flow's arguments; {USAGE}")
    split = args.index("--")
    options, rest = args[:split], args[split + 1 :]
    values: dict[str, str] = {}
    known = ("--package-url", "--package-sha", "--flow-file")
    i = 0
    while i < len(options):
        name, eq, value = options[i].partition("=")
        if name not in known:
            raise BootstrapError(f"unknown option {options[i]!r}; {USAGE}")
        if not eq:
            if i + 1 >= len(options):
                raise BootstrapError(f"{name} needs a value; {USAGE}")
            i += 1
            value = options[i]
        values[name] = value
        i += 1
    missing = [name for name in known if not values.get(name)]
    if missing:
        raise BootstrapError(f"missing {', '.join(missing)}; {USAGE}")
    sha = values["--package-sha"].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise BootstrapError(f"--package-sha {sha!r} is not a sha256 (64 hex digits)")
    ref = PackageRef(url=values["--package-url"], sha=sha, flow_file=values["--flow-file"])
    return ref, rest


def download(
    ref: PackageRef,
    *,
    tries: int = TRIES,
    wait: float = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """The package's bytes, checked; a transient error is tried again ``tries`` times
    in all, ``wait`` seconds apart (doubling). A package unpacked on this machine
    already is not downloaded again: its bytes are not needed then (returns ``b""``)."""
    from grange.environments.unpack import unpacked_dir

    if unpacked_dir(ref.sha).is_dir():
        return b""
    for attempt in range(1, tries + 1):
        try:
            data = _get(ref)
            break
        except (StoreAccessError, OSError) as err:
            if isinstance(err, StoreAccessError):
                transient = err.reason in TRANSIENT
            else:
                transient = not isinstance(err, PERMANENT)
            if not transient or attempt == tries:
                raise _cannot_read(ref, err, attempt) from None
            print(
                f"grange bootstrap: reading {ref.url} failed ({_reason(err)}); "
                f"trying again in {wait:g} s",
                file=sys.stderr,
            )
            sleep(wait)
            wait *= 2
    check_package(data, ref)
    return data


def _get(ref: PackageRef) -> bytes:
    """One try at the bytes: a local file, or an object in S3."""
    if ref.url.startswith("s3://"):
        from grange.datastore import DatastoreLocation
        from grange.environments.package import split_url
        from grange.exceptions import BlobNotFound

        root, key = split_url(ref.url)
        try:
            return DatastoreLocation.of(root).open().get_bytes(key)
        except BlobNotFound:
            raise FileNotFoundError(ref.url) from None
    if "://" in ref.url:
        raise BootstrapError(
            f"--package-url {ref.url}: only local paths and s3:// URLs are supported"
        )
    with open(ref.url, "rb") as f:
        return f.read()


def _cannot_read(ref: PackageRef, err: BaseException, attempts: int) -> DatastoreError:
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    if isinstance(err, FileNotFoundError):
        return DatastoreError(
            f"the code package {ref.url} does not exist",
            fix="the datastore it was stored in was cleaned, or this pod reads another one: "
            "run or deploy the flow again to store its package",
        )
    if isinstance(err, StoreAccessError):
        return DatastoreError(
            f"cannot read the code package {ref.url}{tried}: {err.message}",
            fix=err.fix or "check the pod's access to the datastore",
        )
    return DatastoreError(
        f"cannot read the code package {ref.url}{tried}: {_reason(err)}",
        fix="check that this machine can read the datastore the run was started with",
    )


def _reason(err: BaseException) -> str:
    if isinstance(err, GrangeError):
        return err.message
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def checked_flow_file(folder: Path, rel: str) -> str:
    """``rel`` if it names a file inside the unpacked package."""
    parts = rel.replace(os.sep, "/").split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BootstrapError(f"--flow-file {rel!r} is not a path inside the package")
    if not folder.joinpath(*parts).is_file():
        raise BootstrapError(
            f"the code package holds no flow file {rel!r} (unpacked in {folder})",
            fix="pass the flow_file of the run's PackageRef",
        )
    return "/".join(parts)


def warn_python(folder: Path) -> None:
    """Say so when this Python is not the one the package was built with (major.minor):
    artifacts pickled by one may not load in the other."""
    try:
        info = json.loads((folder / "INFO.json").read_text())
        built = str(info.get("python_version") or "")
    except (OSError, ValueError):
        return
    here = platform.python_version()
    if built and built.split(".")[:2] != here.split(".")[:2]:
        print(
            f"grange bootstrap: warning: the package was built with Python {built}, "
            f"this is Python {here}",
            file=sys.stderr,
        )


def run(folder: Path, flow_file: str, ref: PackageRef, args: list[str]) -> None:
    """Replace this process with ``python FLOW_FILE ARGS...`` in ``folder``."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(folder) + (os.pathsep + path if path else "")
    env[ENV_URL] = ref.url
    env[ENV_SHA] = ref.sha
    env[ENV_FLOW_FILE] = flow_file
    os.chdir(folder)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, flow_file, *args], env)


if __name__ == "__main__":
    sys.exit(main())
