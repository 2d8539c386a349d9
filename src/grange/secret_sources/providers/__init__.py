"""The secrets providers, by the name a source gives them."""

from __future__ import annotations

from grange.secret_sources.providers.aws import AwsSecretsManagerProvider
from grange.secret_sources.providers.base import Provider, ProviderError
from grange.secret_sources.providers.env import EnvProvider
from grange.secret_sources.providers.inline import InlineProvider
from grange.secret_sources.providers.kubernetes import KubernetesProvider
from grange.secret_sources.providers.local import LocalFileProvider

PROVIDERS: dict[str, type[Provider]] = {
    cls.type: cls
    for cls in (
        AwsSecretsManagerProvider,
        EnvProvider,
        InlineProvider,
        KubernetesProvider,
        LocalFileProvider,
    )
}

__all__ = ["PROVIDERS", "Provider", "ProviderError"]
