"""Benchmarks for issue 7 (performance): scripts that print tables, never timed unit tests.

Run them from the repository root as `python benchmarks/<script>.py` (see benchmarks/README.md).
"""
