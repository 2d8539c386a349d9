"""``local-file``: secrets in files on this machine, for laptops.

The secret ``ID`` is read from the secrets directory (``options["dir"]``, else
``$GRANGE_SECRETS_DIR``, else ``~/.grange/secrets``), from the first of:

- ``ID.json``: a JSON object, each entry a variable;
- ``ID.env``: dotenv lines, ``NAME=value`` (``export``, ``#`` comments, quotes);
- ``ID``: with ``options={"json": False}`` the whole text is one value (named
  ``env_var_name`` or the id); otherwise a JSON object, as ``ID.json``.

An id may hold ``/`` (``prod/db`` is ``prod/db.json`` under the directory),
never ``..``. ``options["path"]`` names the file itself instead.
Keep these files readable by you only (``chmod 600``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grange.secret_sources.providers.base import Provider, ProviderError, pairs_from_text

DIR_ENV = "GRANGE_SECRETS_DIR"
DEFAULT_DIR = "~/.grange/secrets"
SUFFIXES = (".json", ".env", "")


def secrets_dir(options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(str(options.get("dir") or env.get(DIR_ENV) or DEFAULT_DIR)).expanduser()


class LocalFileProvider(Provider):
    type = "local-file"
    options = ("dir", "env_var_name", "json", "path")

    def fetch(
        self, secret_id: str, *, options: Mapping[str, Any], role: str | None
    ) -> Mapping[str, object]:
        self.check_options(options)
        path = self._find(secret_id, options)
        try:
            text = path.read_text(encoding="utf-8")
        except PermissionError:
            raise ProviderError(
                f"{path} cannot be read (permission denied)",
                f"make it readable by the user running the flow: chmod 600 {path}",
            ) from None
        except UnicodeDecodeError:
            raise ProviderError(
                f"{path} is not UTF-8 text", "store text; binary values base64-encoded"
            ) from None
        except OSError as err:
            raise ProviderError(f"{path} cannot be read ({err.strerror})") from None
        name = secret_id.rsplit("/", 1)[-1]
        if path.suffix == ".env":
            return parse_dotenv(text, str(path))
        if path.suffix == ".json":
            options = {**options, "json": True}
        return pairs_from_text(text, what=str(path), name=name, options=options)

    def _find(self, secret_id: str, options: Mapping[str, Any]) -> Path:
        if options.get("path"):
            path = Path(str(options["path"])).expanduser()
            if not path.is_file():
                raise ProviderError(
                    f"the file {path} (options path) does not exist",
                    "create it, or correct the source's path option",
                )
            return path
        parts = secret_id.split("/")
        if secret_id.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ProviderError(
                f"'{secret_id}' is not a usable local secret id (no leading /, empty "
                "part, . or ..)",
                "name a file under the secrets directory, e.g. 'prod/db', or give "
                'options={"path": "/full/path.json"}',
            )
        folder = secrets_dir(options)
        found = [
            folder / f"{secret_id}{s}" for s in SUFFIXES if (folder / f"{secret_id}{s}").is_file()
        ]
        if not found:
            raise ProviderError(
                f"no secret '{secret_id}' in {folder} (looked for {secret_id}.json, "
                f"{secret_id}.env and {secret_id})",
                f"create {folder / secret_id}.json holding a JSON object, e.g. "
                f'{{"DB_PASSWORD": "..."}} (chmod 600), or set ${DIR_ENV} to the directory '
                "that holds it",
            )
        if len(found) > 1:
            raise ProviderError(
                f"secret '{secret_id}' is in {len(found)} files: "
                + ", ".join(p.name for p in found),
                "keep one of them",
            )
        return found[0]


def parse_dotenv(text: str, where: str) -> dict[str, object]:
    """``NAME=value`` lines; the message of a bad line gives its number, never its text."""
    out: dict[str, object] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ProviderError(
                f"{where}, line {number}: not NAME=value", "write one NAME=value per line"
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key in out:
            raise ProviderError(f"{where}, line {number}: {key} is set twice", "keep one")
        out[key] = value
    return out
