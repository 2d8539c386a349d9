"""Kubernetes: a step's pod (``pod.plan_pod``), Jobs to run it, and the API client."""
