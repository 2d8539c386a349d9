"""``Config``, ``ConfigValue`` and ``config_expr``: a flow's configuration, read when
its command line starts and usable in decorators at class-definition time.

- :mod:`~grange.user_configs.value`: ``ConfigValue``, the read-only value a step sees;
- :mod:`~grange.user_configs.delayed`: ``config.cpu`` in a class body, ``config_expr``;
- :mod:`~grange.user_configs.config`: ``Config`` itself;
- :mod:`~grange.user_configs.read`: reading files, JSON, defaults and parsers;
- :mod:`~grange.user_configs.parsers`: ``yaml_parser``.

Binding the values into a flow class (its decorators, parameters and steps) is
the graph layer's :func:`grange.graph.configs.bind_configs`. See docs/config.md.
"""

from grange.user_configs.config import Config, bound_values, flow_configs
from grange.user_configs.delayed import DelayedValue, config_expr, has_delayed, resolve
from grange.user_configs.parsers import yaml_parser
from grange.user_configs.value import ConfigValue

__all__ = [
    "Config",
    "ConfigValue",
    "DelayedValue",
    "bound_values",
    "config_expr",
    "flow_configs",
    "has_delayed",
    "resolve",
    "yaml_parser",
]
