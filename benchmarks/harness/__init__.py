"""The benchmark harness behind run.py: tools, cases, measurement, machine floor, report."""
