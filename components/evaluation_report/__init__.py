"""EvaluationReport: the Evaluator's results as JSON, a Markdown page and a confusion-matrix PNG."""
