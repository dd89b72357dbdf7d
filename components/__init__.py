"""Custom TFX components, one folder each: IdxExampleGen, AnomalyGate, ImageUpscaler, ServingBaseline and
ServedBaseModel, Tuner (TFX's, with a trial-exporting executor), GoldenSetEvaluator (and its TFMA config),
EvaluationReport, ModelPusher, ServingSmokeCheck."""
