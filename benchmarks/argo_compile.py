"""Compile time and size of a foreach flow's Argo WorkflowTemplate, and what Argo
carries per run at a 10, 1,000 and 10,000-way foreach, next to Metaflow's scheme.

    python benchmarks/argo_compile.py [--widths 10 1000 10000] [--batch-size 1000] [--repeat 20]

A foreach's width is data, not template: the template is the same at every
width, so its compile time and size are printed once per width only to show
that. What grows with the width is what Argo carries while a run goes: the
split's output parameter that ``withParam`` reads, the number of items it
expands, the arguments of each task, and the nodes in the Workflow's status.

Metaflow's figures are computed from its documented scheme (see
/work/shared/reference/argo.md, sections 5 and 7): the split writes
``num-splits``, a JSON list ``[0, 1, ..., n-1]`` that ``withParam`` expands
into n body DAGs (each a DAG node plus its pod), and the join's helper rebuilds
``run/step/:t-xxxxxxxx,...`` (n ids of 10 characters) into one input-paths
string (on argv before its PR #2659, in a file since).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

FLOW = """
from grange import FlowSpec, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(10))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _compile(batch_size: int):  # -> (manifests, seconds per compile)
    import importlib.util

    from grange.decorators.registry import step_decorators, task_options
    from grange.deploy.argo import ArgoSettings, compile_flow
    from grange.environments.package import PackageRef
    from grange.graph.model import FlowGraph

    folder = Path(tempfile.mkdtemp())
    path = folder / "wide.py"
    path.write_text(FLOW)
    spec = importlib.util.spec_from_file_location("wide_flow", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = module.WideFlow
    settings = ArgoSettings(
        datastore_root="s3://bucket/grange",
        image="python:3.11",
        user="bench",
        foreach_batch_size=batch_size,
        package=PackageRef(
            url="s3://bucket/grange/code/" + "ab" * 32, sha="ab" * 32, flow_file="wide.py"
        ),
    )

    def once():
        graph = FlowGraph.from_flow_class(cls)
        options = {n.name: task_options(step_decorators(getattr(cls, n.name))) for n in graph}
        return compile_flow(cls, graph, options, settings)

    return once


def grange_carries(width: int, batch_size: int, manifests) -> dict[str, int]:
    batches = [
        {"start": s, "end": min(s + batch_size, width) - 1} for s in range(0, width, batch_size)
    ]
    templates = {t["name"]: t for t in manifests.workflow_template["spec"]["templates"]}
    return {
        "output parameter (bytes)": len(json.dumps(batches, separators=(",", ":"))),
        "withParam items": len(batches),
        # what differs between items: the index argument (".9999"), the rest is the template
        "per-item argument (bytes)": len(f".{width - 1}"),
        "join args (bytes)": len(" ".join(templates["join"]["container"]["args"])),
        # the withParam group, per batch a DAG node and its withSequence group, one pod per item
        "status nodes": 1 + 2 * len(batches) + width,
    }


def metaflow_carries(width: int) -> dict[str, int]:
    run = "argo-wideflow-abcde"
    child_args = len(f"{run}/start/t-0123abcd") + len(str(width - 1))
    ids = ",".join("t-0123abcd" for _ in range(width))
    return {
        "output parameter (bytes)": len(json.dumps(list(range(width)), separators=(", ", ":"))),
        "withParam items": width,
        "per-item argument (bytes)": child_args,
        "join args (bytes)": len(f"{run}/work/:") + len(ids),
        # the withParam group, per item a body DAG node and its pod
        "status nodes": 1 + 2 * width,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[10, 1000, 10_000])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    once = _compile(args.batch_size)
    once()  # warm: imports, kubernetes client models
    print(f"python {sys.version.split()[0]}; foreach batch size {args.batch_size}")
    print()
    header = f"{'width':>7} {'compile ms (median)':>20} {'template bytes':>15} {'templates':>10}"
    print(header)
    manifests = None
    for width in args.widths:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            manifests = once()
            times.append(time.perf_counter() - t0)
        count = len(manifests.workflow_template["spec"]["templates"])
        print(
            f"{width:>7} {1000 * statistics.median(times):>20.1f} "
            f"{manifests.size():>15} {count:>10}"
        )
    assert manifests is not None
    print()
    print("Per run, what Argo carries (grange | Metaflow's scheme):")
    keys = list(metaflow_carries(1))
    print(f"{'width':>7} " + " ".join(f"{k:>28}" for k in keys))
    for width in args.widths:
        g = grange_carries(width, args.batch_size, manifests)
        mf = metaflow_carries(width)
        print(f"{width:>7} " + " ".join(f"{f'{g[k]} | {mf[k]}':>28}" for k in keys))
    print()
    print(
        f"Argo's limits: 1,048,576 bytes per Workflow (status included); output parameters "
        f"~262,144 bytes; one argv/env string 131,072 bytes. Batches of "
        f"{args.batch_size} keep grange's output at "
        f"{math.ceil(100_000 / args.batch_size)} objects even at --max-num-splits 100000."
    )


if __name__ == "__main__":
    main()
