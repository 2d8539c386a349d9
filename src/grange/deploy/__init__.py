"""Compilers from a flow to a production scheduler: ``deploy.argo`` (Argo Workflows).

Knows nothing of the local runtime's internals (an import-linter contract)."""
