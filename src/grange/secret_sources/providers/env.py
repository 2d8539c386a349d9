"""``env``: a secret handed to grange in one environment variable of the task.

``env.DB_CREDS`` reads the variable ``DB_CREDS`` (a CI system's secret, say):
a JSON object whose entries become variables (``{"DB_USER": ..., "DB_PASSWORD": ...}``),
or, with ``options={"json": False, "env_var_name": "NAME"}``, one value. Its values
are then masked in logs and refused in artifacts like any other secret's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from grange.secret_sources.providers.base import Provider, ProviderError, pairs_from_text


class EnvProvider(Provider):
    type = "env"
    options = ("env_var_name", "json")

    def fetch(
        self, secret_id: str, *, options: Mapping[str, Any], role: str | None
    ) -> Mapping[str, object]:
        self.check_options(options)
        text = os.environ.get(secret_id)
        if text is None:
            raise ProviderError(
                f"the environment variable {secret_id} is not set",
                f"set {secret_id} in the environment that starts the run",
            )
        return pairs_from_text(
            text, what=f"the variable {secret_id}", name=secret_id, options=options
        )
