"""Custom TFX components, one folder each: IdxExampleGen, AnomalyGate, ImageUpscaler, ServedModelCopy
(the baseline and the base model), Tuner (TFX's, with a trial-exporting executor), GoldenSetEvaluator
(and its TFMA config), EvaluationReport, ModelPusher, ServingSmokeCheck."""
