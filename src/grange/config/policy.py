"""A profile's policy, enforced: each check returns quietly or raises a :class:`PolicyError`
that names the profile, the rule as written in the file, the offending value and the fix.

A rule the profile does not write allows anything, and with no profile in
force there is no policy. The checks are pure functions of the policy and the
value; :func:`check_s3_access` alone finds the policy itself (in a task
process, from ``GRANGE_PROFILE`` / ``GRANGE_CONFIG``, see :mod:`grange.config.active`).

Locations are compared by whole path components after normalisation: an
allowed ``s3://bucket/data`` covers ``s3://bucket/data`` and
``s3://bucket/data/x`` but not ``s3://bucket/database``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping

from grange.config.model import Policy, Rule
from grange.exceptions import PolicyError


def refusal(
    policy: Policy,
    rule: str,
    what: str,
    fix: str,
    *,
    file: str | None = None,
    line: int | None = None,
    step: str | None = None,
) -> PolicyError:
    """The :class:`PolicyError` for breaking ``rule`` of ``policy``: ``what`` was asked.

    Without ``file``, the error points at the rule's line in the configuration file.
    """
    written: Rule = policy.rules[rule]
    message = f"profile {policy.profile!r} refuses {what}: rule {written.as_written()}"
    if file is None:
        file, line = written.file, written.line
    else:
        where = f"{written.file}:{written.line}" if written.line else written.file
        message += f" ({where})"
    return PolicyError(message, file=file, line=line, step=step, fix=fix)


def normalise_location(location: str) -> str:
    """``s3://bucket/prefix`` without trailing ``/``; a folder absolute, ``~`` expanded,
    symbolic links resolved."""
    text = location.strip()
    if text[:5].lower() == "s3://":
        return "s3://" + text[5:].rstrip("/")
    return os.path.realpath(os.path.expanduser(text))


def is_under(location: str, prefixes: Iterable[str]) -> bool:
    """Whether ``location`` is one of ``prefixes`` or inside one (whole components)."""
    target = normalise_location(location)
    for prefix in prefixes:
        base = normalise_location(prefix)
        if target == base or target.startswith(base.rstrip("/") + "/"):
            return True
    return False


def check_datastore_root(policy: Policy, root: str) -> None:
    """``root`` (a folder or ``s3://...``) is under one of ``allowed_datastore_roots``."""
    allowed = policy.allowed_datastore_roots
    if allowed is None or is_under(root, allowed):
        return
    example = f" (--datastore-root {allowed[0]})" if allowed else ""
    raise refusal(
        policy,
        "allowed_datastore_roots",
        f"the datastore root {root!r}",
        f"store the run under an allowed root{example}, or use another profile (--profile NAME)",
    )


def check_resources(
    policy: Policy,
    requested: Mapping[str, float | int | None],
    *,
    step: str,
    file: str | None = None,
    line: int | None = None,
    via: str = "@resources",
) -> None:
    """A step's resources (``cpu``, ``gpu``, ``memory``, ``disk``, ``shared_memory``)
    are within ``max_resources``; the error points at the step's ``file`` and ``line``."""
    limits = policy.max_resources
    if limits is None:
        return
    for name, limit in limits.items():
        value = requested.get(name)
        if value is not None and value > limit:
            shown = _number(value)
            raise refusal(
                policy,
                "max_resources",
                f"{via}({name}={shown}) on step {step!r}: at most {name}={_number(limit)}",
                f"ask for {name}={_number(limit)} or less in {via}, or run under a profile "
                "that allows more (--profile NAME)",
                file=file,
                line=line,
                step=step,
            )


def check_tags(policy: Policy, tags: Iterable[str]) -> None:
    """Every pattern of ``required_tags`` matches one of the run's ``tags``."""
    tags = list(tags)
    for pattern in policy.required_tags:
        if not any(fnmatch.fnmatchcase(tag, pattern) for tag in tags):
            given = ", ".join(tags) if tags else "none"
            example = pattern.replace("*", "NAME").replace("?", "X")
            raise refusal(
                policy,
                "required_tags",
                f"a run without a tag matching {pattern!r} (tags given: {given})",
                f"add one: --tag {example}",
            )


#: Where a machine token reaches grange (a CI secret, e.g. ``secrets.GRANGE_PROD_TOKEN``).
DEPLOY_TOKEN_ENV = "GRANGE_DEPLOY_TOKEN"
_TOKEN_PREFIX = "grange-deploy-"


def new_deploy_token() -> str:
    """A fresh machine token (256 random bits): ``grange config token`` prints it."""
    return _TOKEN_PREFIX + secrets.token_hex(32)


def token_hash(token: str) -> str:
    """``sha256:<hex>``: how ``production_tokens`` holds a machine token."""
    return "sha256:" + hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def check_production_deploy(
    policy: Policy, *, action: str = "deploy", token: str | None = None
) -> str | None:
    """A ``--production`` deploy is allowed (``allow_production_deploy`` is not false),
    and, under ``production_tokens``, ``token`` (``$GRANGE_DEPLOY_TOKEN``) is one of the
    machine tokens whose hashes the rule lists. Returns that token's name (the
    deployer), or None when the profile has no such rule.

    ``action`` names what was asked in the message: ``"run"`` for a local run on a
    ``@project``'s production branch, which the same rules govern.
    """
    if policy.allow_production_deploy is False:
        raise refusal(
            policy,
            "allow_production_deploy",
            f"a --production {action}",
            f"{action} from a profile that allows it (--profile NAME), "
            f"or {action} without --production",
        )
    hashes = policy.production_tokens
    if hashes is None:
        return None
    fix = (
        f"--production {action}s under profile {policy.profile!r} come from CI, which holds "
        f"a machine token in {DEPLOY_TOKEN_ENV}; {action} without --production (e.g. "
        "--branch NAME), or give a token whose hash the rule lists (`grange config token` "
        "makes one)"
    )
    if not token or not token.strip():
        raise refusal(
            policy,
            "production_tokens",
            f"a --production {action} without one of its machine tokens "
            f"({DEPLOY_TOKEN_ENV} is not set)",
            fix,
        )
    given = token_hash(token)
    found = None
    for name, digest in hashes.items():  # every entry compared, in constant time each
        if hmac.compare_digest(given.encode(), digest.encode()) and found is None:
            found = name
    if found is None:
        raise refusal(
            policy,
            "production_tokens",
            f"a --production {action} with a {DEPLOY_TOKEN_ENV} that is none of its machine tokens",
            fix,
        )
    return found


def check_image(policy: Policy, image: str) -> None:
    """A container image comes from one of ``allowed_registries``.

    ``python:3.11`` is ``docker.io/library/python``; a registry entry may
    include a path (``ghcr.io/acme`` allows ``ghcr.io/acme/*`` only).
    """
    allowed = policy.allowed_registries
    if allowed is None:
        return
    name = image_repository(image)
    for registry in allowed:
        base = registry.strip().rstrip("/")
        if name == base or name.startswith(base + "/"):
            return
    raise refusal(
        policy,
        "allowed_registries",
        f"the container image {image!r} (from {name.split('/', 1)[0]})",
        f"use an image from an allowed registry, e.g. {allowed[0]}/IMAGE:TAG"
        if allowed
        else "this profile allows no container image",
    )


def image_repository(image: str) -> str:
    """``registry/path/name`` of an image reference, without tag or digest,
    with Docker Hub's implicit ``docker.io`` (and ``library/``) made explicit."""
    name = image.strip().split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    parts = name.split("/")
    first = parts[0]
    if len(parts) == 1 or not ("." in first or ":" in first or first == "localhost"):
        if len(parts) == 1:
            parts = ["library", *parts]
        parts = ["docker.io", *parts]
    return "/".join(parts)


def check_s3_policy(policy: Policy, url: str, *, write: bool, datastore_root: str | None) -> None:
    """``url`` may be read (or written) under ``policy``: it is under one of
    ``s3_write_prefixes`` (which may also be read), of ``s3_read_prefixes`` for a
    read, or under the run's own datastore root (for a write: its ``data-s3/``
    folder, where ``S3(run=...)`` keeps a run's data)."""
    rule = "s3_write_prefixes" if write else "s3_read_prefixes"
    allowed_write = policy.s3_write_prefixes
    allowed_read = policy.s3_read_prefixes
    if (allowed_write if write else allowed_read) is None:  # no rule: anything
        return
    prefixes = list(allowed_write or ())
    if not write:
        prefixes += list(allowed_read or ())
    if datastore_root and datastore_root.startswith("s3://"):
        # A run may read its datastore; it writes only its S3(run=...) folder there.
        root = datastore_root.rstrip("/")
        prefixes.append(f"{root}/data-s3/" if write else root)
    if is_under(url, prefixes):
        return
    doing = "writing" if write else "reading"
    listed = policy.rules[rule].value
    raise refusal(
        policy,
        rule,
        f"{doing} {url!r} through grange.S3",
        f"{'write' if write else 'read'} under one of {', '.join(listed) or '(none)'}, or ask "
        f"for {url} to be added to {rule} of profile {policy.profile!r}",
    )


def _number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
