"""``Config``, ``ConfigValue`` and ``config_expr``: values read when a flow's
command line starts, usable in decorators at class-definition time."""
