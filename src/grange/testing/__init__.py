"""Helpers to test flows: run a whole flow in an isolated store, or one step alone.

``run_flow`` and ``run_step`` are the public API; :mod:`grange.testing.plugin`
is the pytest plugin (fixtures ``grange_store`` and ``grange_run``) that
pytest loads through grange's ``pytest11`` entry point.
"""
