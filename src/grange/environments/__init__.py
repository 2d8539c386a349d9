"""What a task needs besides its flow class: the code package it runs from and its
step's own Python environment.

Code packages (docs/code-package.md): :mod:`~grange.environments.package` (the API:
``PackageRef``, ``package_flow``, ``fetch_package``), :mod:`~grange.environments.select`
(which files), :mod:`~grange.environments.listing` (that list, kept between runs),
:mod:`~grange.environments.archive` (the deterministic bytes),
:mod:`~grange.environments.unpack` and :mod:`~grange.environments.bootstrap` (a pod's
entry point).

Step environments, ``@pypi`` and ``@conda`` (docs/environments.md):
:mod:`~grange.environments.manager` (the API: resolve, build, prepare, store and load
locks), :mod:`~grange.environments.envlock` (the records), the backends
:mod:`~grange.environments.pypi` (uv, through :mod:`~grange.environments.uvtool`) and
:mod:`~grange.environments.conda` (py-rattler; ``conda_specs``, ``conda_tool``),
:mod:`~grange.environments.keys` / :mod:`~grange.environments.platforms` (what a lock is
keyed by), :mod:`~grange.environments.cache` (built once, atomically),
:mod:`~grange.environments.shim` (grange importable inside), and for pods
:mod:`~grange.environments.podenv` and :mod:`~grange.environments.wheels` (packages in
the datastore).

Knows only storage and configuration (an import-linter contract)."""
