"""The Evaluator with the golden-set check: no model is blessed unless it also passes the golden set."""
