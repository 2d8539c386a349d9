"""grange's pytest plugin (entry point ``pytest11``): fixtures for testing flows.

Loaded by every pytest session where grange is installed: imports nothing heavy
at module level.
"""
