"""TEST ONLY: run a flow file with grange.environments.manager replaced by a fake engine.

``python fake_engine.py FLOW_FILE ARGS...``: resolving writes nothing to the network;
a "lock" lists the packages; "building" makes a folder of stub modules (``name`` with
``__version__``) that goes first on the step's PYTHONPATH, with this Python as the
environment's interpreter ($FAKE_ENGINE_PYTHON if set). Every resolve appends a line to $FAKE_ENGINE_LOG, so tests
can count resolutions. It exercises the runtime side (claim, resume, launch paths)
without uv.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import sys
from pathlib import Path

from grange.environments import manager
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.exceptions import EnvError


def resolve(spec, settings, *, platform=None, runtime=()):
    for name, _ in spec.packages:
        if name.startswith("no-such"):
            raise EnvError(
                f"{spec.decorator} on step '{spec.step}': no version of {name}",
                file=spec.file,
                line=spec.line,
                step=spec.step,
                fix="check the package name",
            )
    with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
        log.write(f"resolve {spec.step}\n")
    if os.environ.get("FAKE_ENGINE_HANG"):  # says it is resolving, then takes its time
        Path(os.environ["FAKE_ENGINE_HANG"]).write_text("")
        import time

        time.sleep(60)
    text = json.dumps({"packages": spec.packages, "python": spec.python}, sort_keys=True)
    return EnvLock(
        kind=spec.kind,
        key=hashlib.sha256(text.encode()).hexdigest(),
        python="3.11.7",
        platform=platform or "test-64",
        text=text,
        tool="fake 1.0",
        packages=tuple({"name": n, "version": v} for n, v in spec.packages),
        requested={"packages": dict(spec.packages), "python": spec.python, "channels": []},
    )


def spec_key(spec, settings, platform=None, *, runtime=()):
    text = json.dumps({"packages": spec.packages, "python": spec.python}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def build(lock, settings, *, runtime=()):
    if os.environ.get("FAKE_ENGINE_NO_BUILD"):
        raise EnvError("building is not allowed here (FAKE_ENGINE_NO_BUILD)")
    root = Path(os.environ["FAKE_ENGINE_ENVS"]) / lock.sha[:16]
    for pkg in json.loads(lock.text)["packages"]:
        (root / pkg[0]).mkdir(parents=True, exist_ok=True)
        (root / pkg[0] / "__init__.py").write_text(f"__version__ = {pkg[1]!r}\n")
    root.mkdir(parents=True, exist_ok=True)
    python = Path(os.environ.get("FAKE_ENGINE_PYTHON") or sys.executable)
    # grange itself: from the caller's PYTHONPATH (a worktree), as a shim would give it
    caller = tuple(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    return PreparedEnv(lock=lock, prefix=root, python=python, pythonpath=(str(root), *caller))


def store_lock(blobs, lock):
    key = f"envs/locks/{lock.sha}.json"
    blobs.put_bytes(key, json.dumps(lock.to_dict()).encode())
    return key


def load_lock(blobs, key):
    return EnvLock.from_dict(json.loads(blobs.get_bytes(key)), where=key)


manager.resolve, manager.build, manager.store_lock, manager.load_lock = (
    resolve, build, store_lock, load_lock,
)  # fmt: skip
manager.spec_key = spec_key
manager.shared_lock = lambda spec, settings, blobs, *, platform=None, runtime=(): None

if __name__ == "__main__":
    flow_file = sys.argv[1]
    sys.argv = [flow_file, *sys.argv[2:]]
    sys.path.insert(0, os.path.dirname(os.path.abspath(flow_file)))
    runpy.run_path(flow_file, run_name="__main__")
