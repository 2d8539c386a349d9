"""Where a task runs when not in a local worker: Kubernetes pods (``compute.kubernetes``).

Knows no graph, runtime, CLI or terminal (an import-linter contract): it is
given a step's options and the command to run, and builds or follows pods."""
