"""Benchmarks of the ingestion service: `python -m bench [--quick]`.

Nothing in `services/` or `workers/` imports this package.
"""
