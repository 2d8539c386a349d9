"""Generate the flows of Metaflow's ``test/core`` with Metaflow's own formatter.

Run as a script, in a process of its own, with a Metaflow checkout::

    python generate.py METAFLOW_SRC OUT.json [CONTEXT]

It imports ``metaflow`` and ``metaflow_test.formatter.FlowFormatter`` from the
checkout (never from this repository), builds every valid graph x test
combination of one context of ``test/core/contexts.json`` (default
``python3-all-local``, the local one) and writes them as JSON: the flow and
check source exactly as Metaflow's formatter prints them, with the test's
flags (resume, expected failure) and the files it needs. grange is not
imported here: adapting the code is :mod:`mfcompat.adapt`'s job.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_CONTEXT = "python3-all-local"


def _core_dir(metaflow_src: Path) -> Path:
    core = metaflow_src / "test" / "core"
    if not (core / "metaflow_test" / "formatter.py").is_file():
        raise SystemExit(
            f"{metaflow_src} is not a Metaflow checkout: {core}/metaflow_test/formatter.py is missing"
        )
    return core


def _graphs(core: Path) -> list[dict[str, Any]]:
    graphs = []
    for path in sorted((core / "graphs").glob("*.json")):
        if not path.name.startswith("."):
            graphs.append(json.loads(path.read_text()))
    return graphs


def _tests(core: Path) -> list[Any]:
    """An instance of every MetaflowTest subclass defined in test/core/tests."""
    base = importlib.import_module("metaflow_test").MetaflowTest
    tests = []
    for path in sorted((core / "tests").glob("*.py")):
        if path.name.startswith("."):
            continue
        module = importlib.import_module(path.stem)
        for _, obj in sorted(vars(module).items()):
            if (
                inspect.isclass(obj)
                and issubclass(obj, base)
                and obj is not base
                and obj.__module__ == module.__name__
            ):
                tests.append(obj())
    return tests


def generate(metaflow_src: Path, context_name: str = DEFAULT_CONTEXT) -> dict[str, Any]:
    """``{"context": {env, run_options}, "cases": [...]}`` for one context."""
    core = _core_dir(metaflow_src)
    for path in (core / "tests", core, metaflow_src):
        sys.path.insert(0, str(path))
    formatter_cls = importlib.import_module("metaflow_test.formatter").FlowFormatter
    contexts = json.loads((core / "contexts.json").read_text())["contexts"]
    context = next(c for c in contexts if c["name"] == context_name)
    disabled = set(context.get("disabled_tests", []))
    enabled = set(context.get("enabled_tests", []))
    cases = []
    for test in _tests(core):
        name = type(test).__name__
        if name in disabled or (enabled and name not in enabled):
            continue
        for graph in _graphs(core):
            formatter = formatter_cls(graph, test)
            if not formatter.valid:
                continue
            cases.append(
                {
                    "test": name,
                    "graph": graph["name"],
                    "flow_name": formatter.flow_name,
                    "flow_code": formatter.flow_code,
                    "check_code": formatter.check_code,
                    "should_resume": bool(formatter.should_resume),
                    "resume_step": formatter.resume_step,
                    "should_fail": bool(formatter.should_fail),
                    "files": [str(core / "tests" / f) for f in formatter.copy_files],
                }
            )
    return {
        "context": {"env": context.get("env", {}), "run_options": context.get("run_options", [])},
        "cases": cases,
    }


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3):
        raise SystemExit("usage: generate.py METAFLOW_SRC OUT.json [CONTEXT]")
    generated = generate(Path(argv[0]).resolve(), *argv[2:])
    Path(argv[1]).write_text(json.dumps(generated))


if __name__ == "__main__":
    main(sys.argv[1:])
