"""What a task needs besides its flow class: the code package it runs from
(:mod:`grange.environments.package`) and, later, its per-step dependencies.

Knows only storage and configuration (an import-linter contract)."""
