"""Benchmarks: each writes machine-readable results under bench/results/; `python -m bench.run` runs them."""

import pipeline  # noqa: F401  (the environment TensorFlow starts in: every bench imports it first)
