"""``python -m grange.environments.bootstrap``: run a task from its code package.

What a pod runs (the pod protocol, docs/code-package.md)::

    python -m grange.environments.bootstrap --package-url URL --package-sha SHA \\
        --flow-file REL [--env-lock-url URL --env-lock-sha SHA] \\
        -- [top-level options] step STEP [step options]

It downloads the package (a local path or an ``s3://`` URL; transient errors
are retried a few times), checks its sha256, unpacks it once per machine
(:mod:`grange.environments.unpack`), and replaces itself with
``python REL ARGS...`` run in the unpacked folder, with that folder first on
``PYTHONPATH`` (so the grange the package carries is the one imported, at the
exact version the run was started with) and ``GRANGE_CODE_PACKAGE_URL``,
``_SHA`` and ``_FLOW_FILE`` set. A missing or damaged package, or a datastore
it cannot read, ends it with one line on stderr and exit status 2.

A step with a ``@pypi``/``@conda`` environment also gets its lock
(``--env-lock-url``/``--env-lock-sha``, read like the package): the environment
is rebuilt from it (:mod:`grange.environments.podenv`, cached across tasks) and
the step runs in that environment's interpreter instead of this one, with the
unpacked folder, then the environment's shim (grange's task-path dependencies),
as its whole ``PYTHONPATH`` (the image's own ``PYTHONPATH`` is dropped, and
``PYTHONNOUSERSITE=1`` set, so that nothing of the image shadows the
environment's packages).

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
from typing import Any

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
    "--flow-file REL [--env-lock-url URL --env-lock-sha SHA] -- ARGS..."
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
    prepared = None
    try:
        ref, lock_ref, rest = parse_all(args)
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
        if lock_ref is None:
            warn_python(folder)
        else:  # the lock's Python is the one that counts (checked by the rebuild)
            prepared = environment(lock_ref, _step_of(rest))
    except GrangeError as err:
        fix = f" Fix: {err.fix}" if err.fix else ""
        where = f"step '{err.step}': " if err.step else ""
        message = " ".join(err.message.rstrip(".").split("\n"))
        print(f"grange bootstrap: {where}{message}.{fix}", file=sys.stderr)
        return EXIT_ERROR
    if prepared is None:
        run(folder, flow, ref, rest)
    else:
        run(folder, flow, ref, rest, prepared=prepared)
    return 0  # not reached: run() replaces the process


def parse(args: list[str]) -> tuple[PackageRef, list[str]]:
    """The package's ref and the arguments after ``--``."""
    ref, _lock, rest = parse_all(args)
    return ref, rest


def parse_all(args: list[str]) -> tuple[PackageRef, tuple[str, str] | None, list[str]]:
    """The package's ref, the environment lock's (URL, sha) or None, and the
    arguments after ``--``."""
    if "--" not in args:
        raise BootstrapError(f"no '--' before the flow's arguments; {USAGE}")
    split = args.index("--")
    options, rest = args[:split], args[split + 1 :]
    values: dict[str, str] = {}
    known = ("--package-url", "--package-sha", "--flow-file")
    optional = ("--env-lock-url", "--env-lock-sha")
    i = 0
    while i < len(options):
        name, eq, value = options[i].partition("=")
        if name not in known + optional:
            raise BootstrapError(f"unknown option {options[i]!r}; {USAGE}")
        if not eq:
            if i + 1 >= len(options):
                raise BootstrapError(f"{name} needs a value; {USAGE}")
            i += 1
            value = options[i]
        if name in values:  # which one was meant? refuse rather than guess
            raise BootstrapError(f"{name} is given twice; {USAGE}")
        values[name] = value
        i += 1
    missing = [name for name in known if not values.get(name)]
    if missing:
        raise BootstrapError(f"missing {', '.join(missing)}; {USAGE}")
    sha = _sha(values, "--package-sha")
    ref = PackageRef(url=values["--package-url"], sha=sha, flow_file=values["--flow-file"])
    given = [name for name in optional if values.get(name)]
    if len(given) == 1:
        other = optional[1 - optional.index(given[0])]
        raise BootstrapError(f"{given[0]} needs {other} too; {USAGE}")
    lock = (values["--env-lock-url"], _sha(values, "--env-lock-sha")) if given else None
    return ref, lock, rest


def _sha(values: dict[str, str], name: str) -> str:
    sha = values[name].lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise BootstrapError(f"{name} {sha!r} is not a sha256 (64 hex digits)")
    return sha


def _step_of(args: list[str]) -> str:
    """The step the flow's arguments run (for messages), or ``""``."""
    for i, arg in enumerate(args[:-1]):
        if arg == "step":
            return args[i + 1]
    return ""


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
    data = retrying(lambda: _get(ref), ref.url, "the code package", tries, wait, sleep)
    check_package(data, ref)
    return data


def retrying(
    get: Callable[[], bytes],
    url: str,
    what: str,
    tries: int = TRIES,
    wait: float = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """``get()``, tried again on a transient error (``tries`` in all, ``wait`` s apart,
    doubling); a permanent or last error is a DatastoreError naming ``what`` at ``url``."""
    for attempt in range(1, tries + 1):
        try:
            return get()
        except (StoreAccessError, OSError) as err:
            if isinstance(err, StoreAccessError):
                transient = err.reason in TRANSIENT
            else:
                transient = not isinstance(err, PERMANENT)
            if not transient or attempt == tries:
                raise _cannot_read(url, what, err, attempt) from None
            print(
                f"grange bootstrap: reading {url} failed ({_reason(err)}); "
                f"trying again in {wait:g} s",
                file=sys.stderr,
            )
            sleep(wait)
            wait *= 2
    raise AssertionError("not reached")


def _get(ref: PackageRef) -> bytes:
    """One try at the package's bytes: a local file, or an object in S3."""
    from grange.environments.package import split_url

    return _read(ref.url, split_url, "--package-url")


def _read(url: str, split: Callable[[str], tuple[str, str]], option: str) -> bytes:
    """One try at the bytes at ``url``: a local file, or an object in S3 (``split``
    gives its datastore root and key)."""
    if url.startswith("s3://"):
        from grange.datastore import DatastoreLocation
        from grange.exceptions import BlobNotFound

        root, key = split(url)
        try:
            return DatastoreLocation.of(root).open().get_bytes(key)
        except BlobNotFound:
            raise FileNotFoundError(url) from None
    if url.startswith("file://"):  # a local datastore's blobs.url()
        from urllib.parse import unquote, urlsplit

        url = unquote(urlsplit(url).path)
    elif "://" in url:
        raise BootstrapError(f"{option} {url}: only local paths and s3:// URLs are supported")
    with open(url, "rb") as f:
        return f.read()


def read_lock(url: str, sha: str, **retry: Any) -> Any:
    """The environment lock at ``url``, checked against ``sha`` (an EnvLock)."""
    from grange.environments.envlock import EnvLock
    from grange.environments.podenv import split_lock_url
    from grange.exceptions import EnvError

    data = retrying(
        lambda: _read(url, split_lock_url, "--env-lock-url"), url, "the environment lock", **retry
    )
    fix = "deploy (or run) the flow again: that stores its environments' locks anew"
    try:
        lock = EnvLock.from_dict(json.loads(data), where=f"the environment lock {url}")
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        raise EnvError(f"the environment lock {url} is damaged: not JSON", fix=fix) from None
    if lock.sha != sha:
        raise EnvError(
            f"the environment lock {url} is not the one asked for: its sha256 is {lock.sha}, "
            f"not {sha}",
            fix=fix,
        )
    return lock


def environment(lock_ref: tuple[str, str], step: str) -> Any:
    """The lock's environment rebuilt on this machine (a PreparedEnv)."""
    from grange.environments.podenv import rebuild, settings_from_env
    from grange.exceptions import EnvError

    url, sha = lock_ref
    try:
        lock = read_lock(url, sha)
        settings, packages = settings_from_env(os.environ)
        datastore = "s3" if url.startswith("s3://") else "local"  # the lock is in the run's
        return rebuild(lock, settings, packages=packages, step=step, datastore=datastore)
    except EnvError as err:
        if step and not err.step:
            err.step = step
        raise


def _cannot_read(url: str, what: str, err: BaseException, attempts: int) -> DatastoreError:
    tried = f" (tried {attempts} times)" if attempts > 1 else ""
    if isinstance(err, FileNotFoundError):
        return DatastoreError(
            f"{what} {url} does not exist",
            fix="the datastore it was stored in was cleaned, or this pod reads another one: "
            f"run or deploy the flow again to store {what}",
        )
    if isinstance(err, StoreAccessError):
        return DatastoreError(
            f"cannot read {what} {url}{tried}: {err.message}",
            fix=err.fix or "check the pod's access to the datastore",
        )
    return DatastoreError(
        f"cannot read {what} {url}{tried}: {_reason(err)}",
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


def run(
    folder: Path, flow_file: str, ref: PackageRef, args: list[str], *, prepared: Any = None
) -> None:
    """Replace this process with ``python FLOW_FILE ARGS...`` in ``folder``: this
    Python, or the interpreter of the ``prepared`` environment (a PreparedEnv)."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    first = [str(folder)]
    python = sys.executable
    if prepared is not None:
        # The environment sees the package and its shim only: the image's PYTHONPATH
        # and user site-packages would shadow the environment's own packages.
        first += [str(p) for p in prepared.pythonpath]
        python = str(prepared.python)
        path = None
        env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(first + ([path] if path else []))
    env[ENV_URL] = ref.url
    env[ENV_SHA] = ref.sha
    env[ENV_FLOW_FILE] = flow_file
    os.chdir(folder)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, flow_file, *args], env)


if __name__ == "__main__":
    sys.exit(main())
