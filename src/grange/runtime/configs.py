"""A run's configs: what its claim records, what its tasks receive, what resume reuses.

The runtime binds the flow's configs once (the command line did), records them
in the run's claim (``extra["configs"]``: ``{name: {"value", "plain"}}``, read by
``Run.config`` and ``resume``) and hands them to every task process it starts
through ``GRANGE_FLOW_CONFIG_BOUND`` (JSON ``{"flow": name, "configs": {name: value}}``): a
task binds them
as they are, without reading ``config.json`` again (a pod has none).
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from grange.exceptions import CommandError
from grange.user_configs import bound_values, flow_configs
from grange.user_configs.read import BOUND_ENV, FILES_ENV, TEXTS_ENV

#: Above this, the values travel to local task processes in a file (Linux refuses
#: one environment string over 128 KiB); a pod or an Argo container cannot take them.
MAX_ENV_BYTES = 100 * 1024


def claim_configs(flow_cls: type) -> dict[str, Any] | None:
    """``extra["configs"]`` of a run's claim: every config's value and ``plain`` flag."""
    values = bound_values(flow_cls)
    if not values:
        return None
    plain = {c.name: c.plain for c in flow_configs(flow_cls).values()}
    return {name: {"value": v, "plain": plain.get(name, False)} for name, v in values.items()}


def export_configs(flow_cls: type) -> str | None:
    """Put the bound values in this process's environment for the tasks it starts;
    return the file they were written to when too big for a variable (remove it at
    the end of the run), else None."""
    values = bound_values(flow_cls)
    for var in (FILES_ENV, TEXTS_ENV):  # read by this process already
        os.environ.pop(var, None)
    if values is None:
        os.environ.pop(BOUND_ENV, None)
        return None
    text = json.dumps({"flow": flow_cls.__name__, "configs": values}, separators=(",", ":"))
    if len(text.encode()) <= MAX_ENV_BYTES:
        os.environ[BOUND_ENV] = text
        return None
    fd, path = tempfile.mkstemp(prefix="grange-configs-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.environ[BOUND_ENV] = "@" + path
    return path


def pod_configs_env() -> dict[str, str]:
    """``GRANGE_FLOW_CONFIG_BOUND`` for a pod's environment (what this process exported)."""
    value = os.environ.get(BOUND_ENV)
    if not value:
        return {}
    if value.startswith("@"):
        raise CommandError(
            f"the flow's configs are {os.path.getsize(value[1:]) // 1024} KiB of JSON: too "
            f"big to pass to a pod (at most {MAX_ENV_BYTES // 1024} KiB)",
            fix="keep large data out of configs: read it in a step (IncludeFile, S3, a file "
            "in the code package) and keep the config small",
        )
    return {BOUND_ENV: value}


def origin_configs(
    root: Any, url: str, flow: str, user: str, origin_run_id: str | None
) -> dict[str, Any] | None:
    """``resume``: the config values recorded by the claim of the origin run
    (``origin_run_id``, or the user's latest run); None: none recorded."""
    from grange.datastore.runs import read_claim
    from grange.metastore import MetadataStore
    from grange.reindex import open_local_index
    from grange.runtime.resume import _origin_run

    blobs = root.open()
    if url == "local":
        metadata = open_local_index(root.make_index_dir(), blobs)
    else:
        metadata = MetadataStore.from_url(url)
    try:
        run = _origin_run(metadata, flow, user, origin_run_id, None)
    finally:
        dispose = getattr(metadata, "close", None)
        if callable(dispose):
            dispose()
    claim = read_claim(blobs, flow, run.run_id)
    recorded = (claim.extra or {}).get("configs") if claim is not None else None
    if recorded is None:
        return None
    return {name: item.get("value") for name, item in recorded.items()}
