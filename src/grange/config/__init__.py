"""Profiles ("perimeters"): named sets of settings, each with a policy that grange enforces.

The file is ``~/.grange/config.toml`` (or ``$GRANGE_CONFIG``), read when a
command starts, never when a module is imported::

    default_profile = "dev"

    [profiles.prod]
    datastore_root = "s3://prod-bucket/grange"
    metadata = "postgresql://grange@db.internal/grange"

    [profiles.prod.policy]
    max_resources = { cpu = 16, memory = 64000 }

A command picks the profile from ``--profile``, else ``GRANGE_PROFILE``, else
``default_profile``, else none (today's behaviour), and each setting from the
command line, else the environment, else the profile, else the default
(:func:`resolve`). The policy checks (:mod:`grange.config.policy`) refuse with
a :class:`~grange.exceptions.PolicyError` that quotes the rule. See
docs/profiles.md.

This package is a layer just above :mod:`grange.exceptions`: it imports the
standard library, ``tomllib`` (``tomli`` before Python 3.11) and nothing else
of grange, so every layer above may ask it.
"""

from __future__ import annotations

from grange.config.active import active, check_s3_access
from grange.config.load import CONFIG_ENV, config_path, parse_config, read_config
from grange.config.mask import mask, mask_text
from grange.config.model import ConfigFile, Policy, Profile, Rule, Secrets
from grange.config.policy import (
    DEPLOY_TOKEN_ENV,
    check_datastore_root,
    check_image,
    check_production_deploy,
    check_resources,
    check_tags,
    new_deploy_token,
    token_hash,
)
from grange.config.resolve import (
    PROFILE_ENV,
    Effective,
    Sourced,
    resolve,
    resolve_profile,
    without_stores,
)

__all__ = [
    "CONFIG_ENV",
    "DEPLOY_TOKEN_ENV",
    "PROFILE_ENV",
    "ConfigFile",
    "Effective",
    "Policy",
    "Profile",
    "Rule",
    "Secrets",
    "Sourced",
    "active",
    "check_datastore_root",
    "check_image",
    "check_production_deploy",
    "check_resources",
    "check_s3_access",
    "check_tags",
    "config_path",
    "mask",
    "mask_text",
    "new_deploy_token",
    "parse_config",
    "read_config",
    "resolve",
    "resolve_profile",
    "token_hash",
    "without_stores",
]
