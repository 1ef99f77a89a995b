"""Pipeline stages: plain functions over small dataclasses.

Nothing in this package does I/O or imports Flask, Celery or SQLAlchemy.
Rules, clocks and backends come in as arguments, so a test, the benchmark
or a notebook can call any stage with no server running.
tests/unit/test_layering.py enforces this with `ast`.
"""
