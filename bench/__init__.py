"""Benchmark harness: `python bench/run.py` runs every bench_*.py module."""
