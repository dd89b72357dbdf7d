"""The Evaluator with a trusted check: no model is blessed unless it also passes the golden set."""
