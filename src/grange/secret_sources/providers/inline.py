"""``inline``: values written in the source itself (``options={"env_vars": {...}}``).

As Metaflow's ``inline`` provider, this is meant for tests: the values are in
the flow file. They are masked wherever grange shows or records the decorator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grange.secret_sources.providers.base import Provider, ProviderError


class InlineProvider(Provider):
    type = "inline"
    options = ("env_vars",)

    def fetch(
        self, secret_id: str, *, options: Mapping[str, Any], role: str | None
    ) -> Mapping[str, object]:
        self.check_options(options)
        values = options.get("env_vars", {})
        if not isinstance(values, Mapping):
            raise ProviderError(
                "options env_vars of an inline source must be a dict",
                'write {"type": "inline", "id": "test", "options": {"env_vars": {"A": "1"}}}',
            )
        return dict(values)
