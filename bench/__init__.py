"""Benchmarks for livesettings: ``python -m bench`` (see bench/__main__.py)."""
