"""``resume`` of a flow with configs: bind the values its origin run was started with.

Apart from :mod:`grange.cli.configs` (which every command of a flow imports, and
through it whatever reads a flow file) because it opens the run index.
"""

from __future__ import annotations

from typing import Any

from grange.graph.configs import bind_configs, has_configs
from grange.user_configs import flow_configs
from grange.user_configs.read import ConfigSources


def bind_origin_configs(flow: Any, origin_run_id: str | None) -> None:
    """``resume``: bind the configs the origin run (``origin_run_id``, or the user's
    latest run) was started with."""
    flow_cls = flow.flow_cls
    if not has_configs(flow_cls):
        return
    from grange.cli.runtime_options import datastore_root, metadata_url
    from grange.parameters import current_username
    from grange.runtime.configs import origin_configs

    values = origin_configs(
        datastore_root(flow.settings),
        metadata_url(flow.settings),
        flow_cls.__name__,
        current_username(),
        origin_run_id,
    )
    # Neither --config nor GRANGE_FLOW_CONFIG(_VALUE) apply to a resumed run (a config
    # added since the origin run gets its default): the environment is not read.
    sources = ConfigSources(flow_name=flow_cls.__name__, flow_dir=_flow_dir(flow_cls))
    if values is None:  # a run from before configs were recorded: the defaults
        bind_configs(flow_cls, sources=sources)
    else:
        names = {c.name for c in flow_configs(flow_cls).values()}
        # a config the flow no longer declares is left behind with its origin run
        bind_configs(flow_cls, {k: v for k, v in values.items() if k in names}, sources=sources)


def _flow_dir(flow_cls: type) -> str | None:
    import inspect
    import os

    try:
        return os.path.dirname(os.path.abspath(inspect.getfile(flow_cls)))
    except (TypeError, OSError):
        return None
