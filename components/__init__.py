"""Custom TFX components, one folder each: IdxExampleGen, DriftGate, ImageUpscaler, ServingBaseline and
ServedBaseModel, TrustedEvaluator (and its TFMA config), EvaluationReport, ModelPusher, ServingSmokeCheck."""
