"""grange: ML workflows as Python classes, run fast locally, deployed to Argo unchanged.

The public API is what this module exports; everything else is internal.
The client API (``Flow``, ``Run``, ``namespace``, ...) and ``S3`` are imported
on first use, so ``import grange`` stays fast and loads no database driver or
S3 library.
"""

from __future__ import annotations

import importlib
import typing

from grange._version import __version__
from grange.current import current
from grange.decorators import (
    card,
    catch,
    conda,
    conda_base,
    environment,
    kubernetes,
    parallel,
    project,
    pypi,
    pypi_base,
    resources,
    retry,
    schedule,
    secrets,
    step,
    timeout,
    trigger,
    trigger_on_finish,
)
from grange.exceptions import GrangeError
from grange.flowspec import FlowSpec
from grange.parameters import IncludeFile, JSONType, Parameter
from grange.user_configs import Config, ConfigValue, config_expr, yaml_parser

if typing.TYPE_CHECKING:
    from grange.client import (
        DataArtifact,
        Flow,
        Metaflow,
        Run,
        Step,
        Task,
        default_metadata,
        default_namespace,
        get_metadata,
        get_namespace,
        inspect_spin,
        metadata,
        namespace,
    )
    from grange.datatools.s3 import S3, S3GetObject, S3Object, S3PutObject

__all__ = [  # noqa: RUF022 (plain sorted(), as the API test checks)
    "Config",
    "ConfigValue",
    "DataArtifact",
    "DeployedFlow",
    "Deployer",
    "Flow",
    "FlowSpec",
    "GrangeError",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "NBRunner",
    "Parameter",
    "Run",
    "Runner",
    "S3",
    "S3GetObject",
    "S3Object",
    "S3PutObject",
    "Step",
    "Task",
    "TriggeredRun",
    "__version__",
    "card",
    "catch",
    "conda",
    "conda_base",
    "config_expr",
    "current",
    "default_metadata",
    "default_namespace",
    "environment",
    "get_metadata",
    "get_namespace",
    "inspect_spin",
    "kubernetes",
    "metadata",
    "namespace",
    "parallel",
    "project",
    "pypi",
    "pypi_base",
    "resources",
    "retry",
    "schedule",
    "secrets",
    "step",
    "timeout",
    "trigger",
    "trigger_on_finish",
    "yaml_parser",
]

_CLIENT_NAMES = frozenset(
    {
        "DataArtifact", "Flow", "Metaflow", "Run", "Step", "Task", "default_metadata",
        "default_namespace", "get_metadata", "get_namespace", "inspect_spin", "metadata",
        "namespace",
    }
)  # fmt: skip


_S3_NAMES = frozenset({"S3", "S3GetObject", "S3Object", "S3PutObject"})

_DEPLOY_NAMES = frozenset({"DeployedFlow", "Deployer", "TriggeredRun"})

_RUNNER_NAMES = frozenset({"NBRunner", "Runner"})


def __getattr__(name: str) -> typing.Any:
    """Import the client API, ``S3``, ``Deployer`` or ``Runner`` on first use (PEP 562)."""
    for names, module_name in (
        (_CLIENT_NAMES, "grange.client"),
        (_S3_NAMES, "grange.datatools.s3"),
        (_DEPLOY_NAMES, "grange.deploy.deployer"),
        (_RUNNER_NAMES, "grange.runner"),
    ):
        if name in names:
            module = importlib.import_module(module_name)
            for exported in names:
                globals()[exported] = getattr(module, exported)
            return globals()[name]
    raise AttributeError(f"module 'grange' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _CLIENT_NAMES | _S3_NAMES | _DEPLOY_NAMES | _RUNNER_NAMES)
