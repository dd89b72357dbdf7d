"""ServedModelCopy: copies the model served now (the Evaluator's baseline, the Trainer's base model)."""
