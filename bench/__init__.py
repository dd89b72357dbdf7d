"""Benchmarks: each writes machine-readable results under bench/results/; `python -m bench.run` runs them."""
