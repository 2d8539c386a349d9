"""``grange config show``: the effective configuration, and where each value comes from.

Every setting is printed with its source: ``flag`` (the command line),
``env`` (an environment variable), ``profile`` (the configuration file, with
the line) or ``default``. Secrets are masked: the password of a URL, and any
value whose name says it is secret (``*password*``, ``*secret*``,
``*token*``, ``*key*``). ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from grange.cli.context import Settings
from grange.cli.options import profile_option, store_options
from grange.cli.runtime_options import effective
from grange.exceptions import CommandError, ConfigError

if TYPE_CHECKING:
    from grange.config import Effective


@click.group(short_help="Show the configuration: profiles, stores and policy.")
def config() -> None:
    """Profiles of ~/.grange/config.toml (or $GRANGE_CONFIG): see docs/profiles.md."""


@config.command(
    short_help="Print the effective configuration, with secrets masked.",
    help="Print the configuration a command started here would use: the profile "
    "(--profile, else $GRANGE_PROFILE, else the file's default_profile), the datastore, "
    "the metadata index, S3 settings, policy, secrets, Kubernetes and Argo settings, "
    "each with where it comes from (flag, env, profile or default). Secrets are masked.",
)
@profile_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@store_options
@click.pass_context
def show(
    ctx: click.Context,
    profile: str | None,
    as_json: bool,
    datastore: str | None,
    datastore_root: str | None,
    metadata: str | None,
) -> None:
    """Print the effective configuration."""
    base = ctx.find_object(Settings) or Settings()
    settings = Settings(
        debug=base.debug,
        quiet=base.quiet,
        datastore=datastore,
        datastore_root=datastore_root,
        metadata=metadata,
        profile=profile or base.profile,
    )
    report = describe(settings)
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=False))
    else:
        click.echo(render(report))


@config.command(
    short_help="Make a machine token for --production deploys (production_tokens).",
    help="Print a new machine token and the line that admits it in a profile's policy: "
    "keep the token secret (a CI secret, given to grange as $GRANGE_DEPLOY_TOKEN) and "
    "write the line in [profiles.NAME.policy] of config.toml, which holds its sha256 only "
    "(docs/profiles.md, docs/cicd.md).",
)
@click.option("--name", default="ci", show_default=True, metavar="NAME",
              help="The token's name in the policy, recorded on what it deploys.")  # fmt: skip
def token(name: str) -> None:
    """Print a new machine token and its ``production_tokens`` line."""
    from grange.config import DEPLOY_TOKEN_ENV, new_deploy_token, token_hash
    from grange.config.schema import TOKEN_NAME

    if not TOKEN_NAME.match(name):
        raise CommandError(
            f"--name {name!r} cannot name a token",
            fix="use letters, digits, '_', '.' and '-', e.g. --name ci",
        )
    secret = new_deploy_token()
    click.echo(secret)
    click.echo(f'production_tokens = {{ {name} = "{token_hash(secret)}" }}')
    click.echo(
        f"The first line is the token: store it as a CI secret and give it to grange as "
        f"{DEPLOY_TOKEN_ENV}; it is not shown again. The second goes in "
        "[profiles.NAME.policy] of config.toml (add to the table if it has entries).",
        err=True,
    )


def describe(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets masked."""
    from grange.config import mask

    eff = effective(settings)
    profile = eff.profile_name

    def entry(value: Any, source: str, origin: str = "", name: str = "") -> dict[str, Any]:
        return {"value": mask(value, name), "source": source, "origin": origin}

    root = eff.datastore_root
    root_value = root.value if root.value is not None else _default_root()
    settings_out = {
        "datastore": entry(eff.datastore.value, eff.datastore.source, eff.datastore.origin),
        "datastore_root": entry(root_value, root.source, root.origin or "the nearest .grange/"),
        "metadata": entry(eff.metadata.value, eff.metadata.source, eff.metadata.origin),
    }
    return {
        "config_file": eff.config_file,
        "config_file_exists": eff.config_exists,
        "profiles": list(eff.profiles),
        "profile": entry(profile, eff.profile.source, eff.profile.origin),
        "settings": settings_out,
        "s3": _s3(eff),
        "policy": mask(eff.policy.as_dict()),
        "secrets": mask(eff.secrets.as_dict()),
        "kubernetes": mask(dict(eff.kubernetes)),
        "argo": mask(dict(eff.argo)),
    }


def _default_root() -> str:
    from pathlib import Path

    from grange.datastore import find_datastore_root

    return str(find_datastore_root(Path.cwd(), None, {}))


def _s3(eff: Effective) -> dict[str, Any]:
    """Each S3 setting: its value as S3Settings will use it, and its source."""
    from grange.config import mask
    from grange.datastore.s3.settings import ENV, S3Settings

    try:
        values = S3Settings.from_env(os.environ, eff.s3_overrides())
    except ConfigError as err:  # a bad value: shown as the error, the rest still printed
        return {"error": err.render()}
    out = {}
    for name, variables in ENV.items():
        variable = next((v for v in variables if os.environ.get(v)), None)
        given = eff.s3.get(name)
        if variable is not None:
            source, origin = "env", variable
        elif given is not None:
            source, origin = given.source, given.origin
        else:
            source, origin = "default", ""
        value = getattr(values, name)
        out[name] = {"value": mask(value, name), "source": source, "origin": origin}
    return out


def render(report: dict[str, Any]) -> str:
    """The report as aligned text."""
    lines = []
    file = report["config_file"]
    exists = "" if report["config_file_exists"] else " (none: defaults in use)"
    lines.append(f"config file   {file}{exists}")
    if report["profiles"]:
        lines.append(f"profiles      {', '.join(report['profiles'])}")
    prof = report["profile"]
    source = f"  ({_source(prof)})" if prof["value"] else ""
    lines.append(f"profile       {prof['value'] or '(none)'}{source}")
    lines.append("")
    rows = [(name, e) for name, e in report["settings"].items()]
    show_s3 = report["settings"]["datastore"]["value"] == "s3" or any(
        e.get("source") not in ("default", None)
        for e in report["s3"].values()
        if isinstance(e, dict)
    )
    if show_s3:
        rows += [(f"s3.{name}", e) for name, e in report["s3"].items() if isinstance(e, dict)]
    width = max(len(name) for name, _ in rows)
    for name, e in rows:
        lines.append(f"{name.ljust(width)}  {_text(e['value'])}  ({_source(e)})")
    if show_s3 and "error" in report["s3"]:
        lines.append(f"s3: {report['s3']['error']}")
    for section in ("policy", "secrets", "kubernetes", "argo"):
        body = report[section]
        if body:
            lines.append("")
            lines.append(f"[{section}]")
            lines.extend(f"  {key} = {_text_toml(value)}" for key, value in body.items())
    if prof["value"] and not report["policy"]:
        lines.append("")
        lines.append("[policy] none: this profile allows anything")
    return "\n".join(lines)


def _text_toml(value: Any) -> str:
    from grange.config.model import toml_value

    return toml_value(value)


def _source(entry: dict[str, Any]) -> str:
    return f"{entry['source']}: {entry['origin']}" if entry["origin"] else entry["source"]


def _text(value: Any) -> str:
    from grange.config.model import toml_value

    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return toml_value(value)
