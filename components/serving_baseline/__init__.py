"""ServingBaseline: finds the model served under the serving root, the Evaluator's baseline."""
