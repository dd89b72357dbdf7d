"""TFX's Evaluator, told that a baseline artifact may hold no model (the first run's)."""
