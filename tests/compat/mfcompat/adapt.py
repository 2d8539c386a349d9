"""Turn a flow and a check generated for Metaflow into ones for grange.

Only what a user switching from Metaflow would change is changed:

* ``from metaflow import a, b`` becomes ``from grange import a, b``, keeping
  the names the file uses (Metaflow's formatter imports a fixed list of names
  into every flow; a user's file imports what it uses). A name grange lacks is
  kept, so the flow fails as a user's would, and is recorded as a missing
  feature.
* ``from metaflow.<module> import X``: the few names grange has elsewhere are
  mapped (:data:`MODULE_NAMES`); any other module keeps its path under
  ``grange`` and is recorded as missing.
* ``METAFLOW_USER``, ``METAFLOW_RUN_<PARAM>``, ``METAFLOW_BRANCH``,
  ``METAFLOW_PRODUCTION`` and ``METAFLOW_FLOW_CONFIG(_VALUE)`` become
  ``GRANGE_USER``, ``GRANGE_RUN_<PARAM>``, ``GRANGE_BRANCH``,
  ``GRANGE_PRODUCTION`` and ``GRANGE_FLOW_CONFIG(_VALUE)``, the variables grange reads.
* Two private attributes of Metaflow's ``FlowSpec`` that some tests read
  (:data:`PRIVATE_ATTRIBUTES`) become the public equivalent:
  ``self._current_step`` is ``current.step_name``, and ``self._foreach_stack``
  (frames with the ``var`` of each enclosing foreach) is computed from the graph
  by ``metaflow_test.foreach_frames``.
* Output formats: qualified exception names that a check compares
  (:data:`QUALIFIED_NAMES`), and the check's ``Flow(use_cli=False)`` (used as
  a description of the graph) becomes ``flow_view(Flow)``, whose node types
  are named as Metaflow names them.

Nothing here imports Metaflow or grange, so it is unit-tested on its own.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

#: ``(metaflow module, name) -> (module, name)`` for names that grange has in
#: another place. Metaflow's exception classes map to grange's root,
#: ``GrangeError``; ``ExternalCommandFailed`` (used by the tests as an exception
#: that is non-trivial to pickle) to a stand-in of the same shape.
MODULE_NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("metaflow.metaflow_current", "current"): ("grange", "current"),
    ("metaflow.client", "Flow"): ("grange", "Flow"),
    ("metaflow.client", "namespace"): ("grange", "namespace"),
    ("metaflow.exception", "MetaflowException"): ("grange", "GrangeError"),
    ("metaflow.exception", "MetaflowNamespaceMismatch"): (
        "grange.exceptions",
        "NamespaceMismatch",
    ),
    ("metaflow.exception", "UnhandledInMergeArtifactsException"): ("grange", "GrangeError"),
    ("metaflow.exception", "MissingInMergeArtifactsException"): ("grange", "GrangeError"),
    ("metaflow.exception", "ExternalCommandFailed"): (
        "metaflow_test.stand_ins",
        "ExternalCommandFailed",
    ),
    ("metaflow.cards", "get_cards"): ("grange.cards", "get_cards"),
    ("metaflow.plugins.cards.card_client", "Card"): ("grange.client.cards", "Card"),
}

#: The card types grange has; any other ``@card(type=...)`` is a custom card type
#: (a ``MetaflowCard`` subclass or a card extension), which grange does not support.
CARD_TYPES = frozenset({"default", "blank"})
_CARD_TYPE = re.compile(r"""\bcard\(\s*type\s*=\s*["']([A-Za-z0-9_]+)["']""")
CUSTOM_CARDS = "custom card types"

#: Qualified exception names compared by checks: Metaflow's -> grange's.
QUALIFIED_NAMES: dict[str, str] = {
    "metaflow.exception.ExternalCommandFailed": "metaflow_test.stand_ins.ExternalCommandFailed",
    "metaflow.plugins.timeout_decorator.TimeoutException": "grange.decorators.timeout.TimeoutException",
    "metaflow.plugins.catch_decorator.FailureHandledByCatch": "grange.decorators.catch.FailureHandledByCatch",
}

#: Private attributes of Metaflow's FlowSpec -> grange's public way to get the same.
PRIVATE_ATTRIBUTES: dict[str, str] = {
    "self._current_step": "current.step_name",
    "self._foreach_stack": "foreach_frames(self)",
    # SecretsDecoratorTest skips the workers of a local @parallel gang, whose secrets
    # Metaflow does not set; grange sets them in every task, so every task is checked.
    "self._graph[current.step_name].parallel_step": "False",
}

ENV_NAMES: dict[str, str] = {
    "METAFLOW_RUN_": "GRANGE_RUN_",
    "METAFLOW_USER": "GRANGE_USER",
    "METAFLOW_BRANCH": "GRANGE_BRANCH",  # --branch and --production, from the environment
    "METAFLOW_PRODUCTION": "GRANGE_PRODUCTION",
    # Config: GRANGE_FLOW_CONFIG ({"name": "file"}) and GRANGE_FLOW_CONFIG_VALUE
    "METAFLOW_FLOW_CONFIG": "GRANGE_FLOW_CONFIG",
}

#: The feature (as the issues name it) that a missing name or module stands for.
FEATURES: dict[str, str] = {
    "card": "cards",
    "metaflow.cards": "cards",
    "metaflow.plugins.cards": "cards",
    # Metaflow's test card types and components (TestStringComponent, ...).
    "metaflow.plugins.cards.card_modules.test_cards": CUSTOM_CARDS,
    "project": "@project",
    "parallel": "@parallel",
    "Config": "Config",
    "config_expr": "Config",
    "FlowMutator": "custom decorators",
    "StepMutator": "custom decorators",
    "UserStepDecorator": "custom decorators",
    "user_step_decorator": "custom decorators",
    "metaflow.plugins.InternalTestUnboundedForeachInput": "unbounded foreach",
}
EXTENSIONS = "Metaflow extension plugins"


@dataclass
class Adapted:
    """Adapted source and the Metaflow names it needs that grange lacks."""

    code: str
    missing: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[str]:
        """The missing features, in the order first needed, without repeats."""
        out: list[str] = []
        for name in self.missing:
            feature = FEATURES.get(name) or FEATURES.get(name.rsplit(".", 1)[0]) or EXTENSIONS
            if name.startswith("card-type:"):
                feature = CUSTOM_CARDS
            elif feature == EXTENSIONS and (
                name.startswith("metaflow.plugins.cards") or name.startswith("metaflow.cards")
            ):
                feature = "cards"
            if feature not in out:
                out.append(feature)
        return out


def _used_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _import_lines(
    node: ast.ImportFrom, used: set[str], grange_names: frozenset[str], missing: list[str]
) -> list[str]:
    module = node.module or ""
    by_module: dict[str, list[str]] = {}
    for alias in node.names:
        local = alias.asname or alias.name
        if module == "metaflow":
            if local not in used and alias.name != "*":
                continue
            target, name = "grange", alias.name
            if name not in grange_names:
                missing.append(name)
        elif (module, alias.name) in MODULE_NAMES:
            target, name = MODULE_NAMES[(module, alias.name)]
        else:
            target, name = "grange" + module[len("metaflow") :], alias.name
            missing.append(f"{module}.{alias.name}")
        spec = name if name == local else f"{name} as {local}"
        by_module.setdefault(target, []).append(spec)
    return [f"from {m} import {', '.join(names)}" for m, names in by_module.items()]


def swap_imports(code: str, grange_names: frozenset[str]) -> Adapted:
    """``metaflow`` imports of ``code`` rewritten for grange (see the module doc)."""
    tree = ast.parse(code)
    used = _used_names(tree)
    lines = code.splitlines()
    missing: list[str] = []
    edits: list[tuple[ast.ImportFrom, list[str]]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module == "metaflow" or node.module.startswith("metaflow."))
        ):
            edits.append((node, _import_lines(node, used, grange_names, missing)))
    # Replace from the bottom up so that earlier line numbers stay valid.
    for node, new in sorted(edits, key=lambda e: e[0].lineno, reverse=True):
        start, end = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        prefix = lines[start][: node.col_offset]
        suffix = lines[end][node.end_col_offset :] if node.end_col_offset is not None else ""
        new = new or ["pass"]  # every name was unused
        if prefix.strip() or suffix.strip():  # other code on its line (``x; from ...; y``)
            lines[start : end + 1] = [prefix + "; ".join(new) + suffix]
        else:
            lines[start : end + 1] = [prefix + line for line in new]
    return Adapted("\n".join(lines) + "\n", missing)


def swap_names(code: str) -> str:
    """Environment variable names and qualified exception names, Metaflow's -> grange's."""
    for old, new in {**ENV_NAMES, **QUALIFIED_NAMES}.items():
        code = code.replace(old, new)
    # A qualified name split over two adjacent literals: "metaflow.plugins.x." "Name"
    for old, new in QUALIFIED_NAMES.items():
        head, _, tail = old.rpartition(".")
        code = re.sub(rf'"{re.escape(head)}\."\s*"{re.escape(tail)}"', f'"{new}"', code)
    return code


_USE_CLI_FALSE = re.compile(r"^(\s*)(\w+) = (\w+)\(use_cli=False\)\s*$", re.M)


def swap_private_attributes(code: str) -> str:
    """Metaflow-private ``self._...`` attributes -> public equivalents (see the module doc)."""
    for old, new in PRIVATE_ATTRIBUTES.items():
        code = re.sub(rf"{re.escape(old)}\b", new, code)
    if "foreach_frames(self)" in code:
        code = code.replace(
            "from metaflow_test import ", "from metaflow_test import foreach_frames, ", 1
        )
    return code


def adapt_flow(code: str, grange_names: frozenset[str]) -> Adapted:
    """The generated flow file, for grange.

    A ``@card(type=...)`` of a type grange lacks is recorded as missing
    (``card-type:NAME``, the feature :data:`CUSTOM_CARDS`), first, so that a
    flow that also imports Metaflow's test card components counts under it.
    """
    adapted = swap_imports(swap_names(swap_private_attributes(code)), grange_names)
    custom = sorted({t for t in _CARD_TYPE.findall(code) if t not in CARD_TYPES})
    adapted.missing[:0] = [f"card-type:{t}" for t in custom]
    return adapted


def adapt_check(code: str, grange_names: frozenset[str]) -> Adapted:
    """The generated check file, for grange: its flow object is a :func:`flow_view`."""
    code, count = _USE_CLI_FALSE.subn(r"\1\2 = flow_view(\3)", code)
    if count != 1:
        raise ValueError("the check has no 'flow = Flow(use_cli=False)' line to adapt")
    code = code.replace("from metaflow_test import ", "from metaflow_test import flow_view, ", 1)
    return swap_imports(swap_names(code), grange_names)
