"""EvaluationReport: the Evaluator's results as JSON, Markdown and a confusion-matrix PNG; the model card."""
