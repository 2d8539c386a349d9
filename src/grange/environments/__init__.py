"""What a task needs besides its flow class: the code package it runs from and, later,
its per-step dependencies.

Code packages (docs/code-package.md): :mod:`~grange.environments.package` (the API:
``PackageRef``, ``package_flow``, ``fetch_package``), :mod:`~grange.environments.select`
(which files), :mod:`~grange.environments.listing` (that list, kept between runs),
:mod:`~grange.environments.archive` (the deterministic bytes),
:mod:`~grange.environments.unpack` and :mod:`~grange.environments.bootstrap` (a pod's
entry point).

Knows only storage and configuration (an import-linter contract)."""
