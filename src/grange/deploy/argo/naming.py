"""Names in the compiled manifests: the workflow (template) name and the template names.

Kubernetes object names are RFC 1123 subdomains (lowercase letters, digits,
``-`` and ``.``; each dot-separated part starts and ends with a letter or
digit). Argo limits WorkflowTemplates and Workflows to 63 characters and
CronWorkflows to 52 (a cron run is named ``<cron>-<10-digit time>``). A
deployment's WorkflowTemplate, CronWorkflow and Sensor share one name, so the
name is kept within 52 characters: a longer derived name is shortened to a
readable prefix plus a hash of the whole, so it stays unique and stable.
"""

from __future__ import annotations

import base64
import hashlib
import re

from grange.exceptions import CompileError

MAX_NAME = 52  # CronWorkflow's limit: every object of a deployment fits
MAX_WORKFLOW_NAME = 63
MAX_TEMPLATE_NAME = 128  # Argo's limit on template and task names
HASH_LENGTH = 5

_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
# Template, task and parameter names: letters, digits and '-', starting with a letter or digit.
_FIELD_NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")


def is_object_name(name: str, limit: int = MAX_NAME) -> bool:
    """``name`` is an RFC 1123 subdomain of at most ``limit`` characters."""
    return len(name) <= limit and bool(_SUBDOMAIN.match(name))


def is_field_name(name: str) -> bool:
    """``name`` is valid for an Argo template, DAG task or parameter."""
    return len(name) <= MAX_TEMPLATE_NAME and bool(_FIELD_NAME.match(name))


def workflow_name(
    flow_name: str, project_flow_name: str | None = None, explicit: str | None = None
) -> str:
    """The WorkflowTemplate's name: ``explicit`` (``--name``) as given, which must
    be valid; else the project flow name (``proj.branch.Flow``) or the flow name,
    lower-cased with ``_`` dropped (as Metaflow), other characters that a name
    cannot hold turned into ``-``, and shortened with a hash past 52 characters."""
    if explicit is not None:
        if not is_object_name(explicit):
            raise CompileError(
                f"--name {explicit!r} is not a valid name for a WorkflowTemplate: it must be at "
                f"most {MAX_NAME} characters of lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit",
                fix=f"pass e.g. --name {_sanitize(explicit)[:MAX_NAME] or 'my-flow'}",
            )
        return explicit
    source = project_flow_name or flow_name
    name = _sanitize(source)
    if not name:
        raise CompileError(
            f"no valid WorkflowTemplate name can be made from {source!r}",
            fix="pass one with --name NAME (lowercase letters, digits and '-')",
        )
    if len(name) > MAX_NAME:
        name = _shorten(name, source)
    return name


def _sanitize(text: str) -> str:
    lowered = text.lower().replace("_", "")
    parts = []
    for part in lowered.split("."):
        part = re.sub(r"[^a-z0-9-]+", "-", part)
        part = re.sub(r"-{2,}", "-", part).strip("-")
        if part:
            parts.append(part)
    return ".".join(parts)


def _shorten(name: str, source: str) -> str:
    digest = hashlib.sha1(source.encode("utf-8")).digest()
    tag = base64.b32encode(digest).decode("ascii").lower()[:HASH_LENGTH]
    budget = MAX_NAME - HASH_LENGTH - 1
    parts = name.split(".")
    if len(parts) > 1:
        # Every part stays readable: share the room fairly, short parts keep all of theirs.
        lengths = _fair_shares([len(p) for p in parts], budget - (len(parts) - 1))
        head = ".".join(p[:n].strip("-") for p, n in zip(parts, lengths, strict=True))
        head = re.sub(r"\.{2,}", ".", head).strip(".")
    else:
        head = name
    head = head[:budget].rstrip("-.")
    return f"{head}-{tag}"


def _fair_shares(lengths: list[int], room: int) -> list[int]:
    """Water-filling: each part gets up to an equal share; what short parts leave is
    shared among the longer ones."""
    shares = [0] * len(lengths)
    left = list(range(len(lengths)))
    while left and room > 0:
        share = max(1, room // len(left))
        for i in list(left):
            take = min(share, lengths[i] - shares[i], room)
            shares[i] += take
            room -= take
            if shares[i] >= lengths[i]:
                left.remove(i)
            if room <= 0:
                break
    return shares


def step_template(step: str) -> str:
    """A step's container template (and DAG task) name: ``_`` becomes ``-``; a name
    that would start with ``-`` gets an ``s`` in front."""
    name = step.replace("_", "-")
    return name if name[:1].isalnum() else f"s{name}"


def foreach_task(split: str) -> str:
    """The DAG task that fans a foreach out over its batches."""
    return f"{step_template(split)}-foreach"


def batch_template(split: str) -> str:
    """The DAG template running one batch of a foreach (a withSequence task)."""
    return f"{step_template(split)}-batch"


def body_template(split: str) -> str:
    """The DAG template of one item of a foreach: its steps up to the join."""
    return f"{step_template(split)}-body"


def item_task(split: str) -> str:
    """The batch template's one task: one item of the foreach."""
    return f"{step_template(split)}-item"


def gang_template(split: str) -> str:
    """The DAG template (and the task calling it) of a @parallel gang, retried whole."""
    return f"{step_template(split)}-gang"


def node_task(split: str) -> str:
    """The gang template's one task: its N nodes (``withSequence: {count: N}``)."""
    return f"{step_template(split)}-node"


EXIT_TEMPLATE = "argo-finish"


# -- events (Sensor dependencies and the hidden parameters carrying their payloads) --------

#: Workflow parameters whose names start with this carry an event's whole payload to the
#: start step (``grange-trigger-event-<dep>`` for @trigger, ``grange-trigger-run-<dep>``
#: for @trigger_on_finish); a flow parameter may not be named so.
TRIGGER_PARAMETER_PREFIX = "grange-trigger-"
_DEPENDENCY_ROOM = 40


def short_hash(text: str, length: int = 4) -> str:
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:length]


def event_dependency(event: str) -> str:
    """A Sensor dependency's name for ``event``: readable (lowercase letters, digits
    and ``-``) plus 4 characters of a hash of the exact name, so that names differing
    only in dots or case stay apart."""
    base = re.sub(r"[^a-z0-9]+", "-", event.lower()).strip("-")[:_DEPENDENCY_ROOM].strip("-")
    return f"{base or 'event'}-{short_hash(event)}"


def trigger_parameter(kind: str, dependency: str) -> str:
    """The hidden workflow parameter holding the payload of ``dependency``'s event."""
    return f"{TRIGGER_PARAMETER_PREFIX}{kind}-{dependency}"
