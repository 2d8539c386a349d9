"""What a run of the executor reports: nodes (pods with their attempts, DAGs, task
groups, skipped and omitted tasks) and the workflow's phase."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from pathlib import Path

FAILED = {"Failed", "Error"}


@dataclass
class Attempt:
    phase: str
    exit_code: int | None
    message: str
    stdout: Path
    stderr: Path
    argv: list[str]


@dataclass
class Node:
    """One node of the run: a pod (with its attempts), a DAG, a task group, or a
    task that did not run (Skipped by ``when``, Omitted by ``depends``)."""

    name: str
    template: str
    type: str  # Pod, DAG, TaskGroup, Skipped, Omitted
    phase: str = "Pending"
    outputs: dict[str, str] = field(default_factory=dict)
    message: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def retries(self) -> int:
        return max(0, len(self.attempts) - 1)


@dataclass
class WorkflowResult:
    name: str
    uid: str
    phase: str
    entry: Node
    exit: Node | None
    nodes: list[Node]

    def pods(self, template: str | None = None) -> list[Node]:
        return [n for n in self.nodes if n.type == "Pod" and template in (None, n.template)]

    def explain(self) -> str:
        lines = [f"workflow {self.name}: {self.phase}"]
        for n in self.nodes:
            lines.append(f"  {n.name} [{n.template}] {n.type} {n.phase} {n.message}")
            if n.type == "Pod" and n.phase in FAILED:
                for a in n.attempts:
                    lines.append(f"    $ {' '.join(a.argv)}")
                    lines.append("    " + a.stderr.read_text(errors="replace")[-3000:])
        return "\n".join(lines)


def gen_suffix() -> str:
    """Five random characters, as Argo appends to ``generateName``."""
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
