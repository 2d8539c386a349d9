"""Secrets for ``@secrets``: sources, providers, policy, and keeping values out of sight.

- :mod:`~grange.secret_sources.spec`: what a source is (pure; the decorator uses it);
- :mod:`~grange.secret_sources.policy`: the default provider and role, allowed sources;
- :mod:`~grange.secret_sources.providers`: ``local-file``, ``env``, ``inline``,
  ``aws-secrets-manager`` (boto3, imported when used), ``kubernetes``;
- :mod:`~grange.secret_sources.load`: reading a step's sources into variables;
- :mod:`~grange.secret_sources.redact`, :mod:`~grange.secret_sources.output`,
  :mod:`~grange.secret_sources.artifacts`: masking values in output, refusing them in artifacts.

This package knows nothing of steps, tasks or storage: the task layer calls it.
Importing it imports nothing: the decorators import :mod:`~grange.secret_sources.spec`
at ``import grange``, the task layer the rest when a step has ``@secrets``.
"""
