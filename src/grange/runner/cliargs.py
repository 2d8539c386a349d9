"""Keyword arguments as a flow's command-line words, shared by ``Runner`` and ``Deployer``.

Both drive ``python flow.py [top-level options] COMMAND [options]`` in a
subprocess, so a run or deployment made from Python is the one the command
line makes. A keyword argument is a flow parameter by its own name
(``alpha=0.3`` -> ``--alpha 0.3``; a list or dict as JSON; a bool as
``true``/``false``, or a bare ``--name`` for an ``is_flag`` parameter), else a
command option (``max_workers=3`` -> ``--max-workers 3``, ``tags=["a", "b"]``
-> ``--tag a --tag b``, ``with_=["retry"]`` -> ``--with retry``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from grange.exceptions import GrangeError

# Keyword arguments whose option is not simply --name-with-dashes (Metaflow's names).
RENAMED = {"tags": "tag", "with_": "with", "decospecs": "with"}
# Options that are on/off pairs: False is --no-<name>, not "leave it out".
TOGGLES = frozenset(
    {"auto_emit_argo_events", "notify_on_error", "notify_on_success", "persist", "skip_decorators"}
)


# A flow's configs (top-level): config=[("cfg", "file.json")], config_value={"cfg": {...}}.
CONFIG_OPTIONS = frozenset({"config", "config_value"})


def _config_words(flag: str, value: Any) -> list[str]:
    pairs = value.items() if isinstance(value, Mapping) else value
    words = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GrangeError(
                f"{flag[2:].replace('-', '_')}= takes (config name, value) pairs or a dict, "
                f"not {pair!r}",
                fix=f'e.g. {flag[2:].replace("-", "_")}=[("config", ...)]',
            )
        name, given = pair
        if flag == "--config":  # a file
            text = os.fspath(given)
        else:  # JSON: a dict as such, a string as given
            text = given if isinstance(given, str) else json.dumps(given)
        words += [flag, str(name), text]
    return words


def find_parameter(name: str, parameters: Mapping[str, Any]) -> Any:
    """The flow parameter a keyword argument names (``learning_rate`` finds
    ``learning-rate``), or None."""
    return parameters.get(name) or parameters.get(name.replace("_", "-"))


def option(name: str, value: Any, parameters: Mapping[str, Any]) -> list[str]:
    """The command-line words of one keyword argument (see the module's doc)."""
    param = find_parameter(name, parameters)
    if param is not None:
        flag = "--" + param.name
        if value is None:
            return []
        if getattr(param, "is_flag", False):
            return [flag] if value else []
        if isinstance(value, bool):
            return [flag, "true" if value else "false"]
        if isinstance(value, (dict, list, tuple)):
            return [flag, json.dumps(value)]
        return [flag, str(value)]
    flag = "--" + RENAMED.get(name, name).replace("_", "-")
    if name in CONFIG_OPTIONS and isinstance(value, (Mapping, list, tuple)):
        return _config_words(flag, value)
    if value is True:
        return [flag]
    if value is False:
        return ["--no-" + flag[2:]] if name in TOGGLES else []
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [part for item in value for part in (flag, str(item))]
    if isinstance(value, dict):
        return [flag, json.dumps(value)]
    return [flag, str(value)]


def options(values: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> list[str]:
    """The words of all ``values``, in order."""
    return [
        part for name, value in values.items() for part in option(name, value, parameters or {})
    ]


def load_flow(flow_file: str, error: type[GrangeError]) -> tuple[str, dict[str, Any]] | None:
    """The flow's class name and its parameters by name, read by importing the file once
    (as Metaflow's Runner and Deployer do; ``if __name__ == "__main__"`` keeps the flow
    from running). None when the file holds no flow class; a file that cannot be
    imported raises ``error`` with what went wrong."""
    import importlib.util

    from grange.flowspec import FlowSpec
    from grange.parameters import flow_parameters

    spec = importlib.util.spec_from_file_location("_grange_driven_flow", flow_file)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(flow_file)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException as err:  # a flow file may even call sys.exit at import
        if isinstance(err, KeyboardInterrupt):
            raise
        raise error(
            f"cannot read the flow in {flow_file}: {type(err).__name__}: {err}",
            fix=f"check it with: python {flow_file} check",
        ) from None
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    flows = [
        v for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, FlowSpec) and v is not FlowSpec
        and v.__module__ == module.__name__
    ]  # fmt: skip
    if not flows:
        return None
    return flows[-1].__name__, {p.name: p for p in flow_parameters(flows[-1])}
