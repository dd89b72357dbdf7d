"""The pipeline's node ids: what the factory names each component, and what ML Metadata records.

The summary, the lineage, the Kubeflow resources and the tests find a component's runs by these ids.
"""

from __future__ import annotations

EXAMPLE_GEN = "IdxExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
ANOMALY_GATE = "AnomalyGate"
UPSCALER = "ImageUpscaler"
TRANSFORM = "Transform"
SERVED_BASE_MODEL = "ServedBaseModel"  # a ServedModelCopy: the Trainer's base model
TUNER = "Tuner"
TRAINER = "Trainer"
SERVING_BASELINE = "ServingBaseline"  # a ServedModelCopy: the Evaluator's baseline
EVALUATOR = "Evaluator"
EVALUATION_REPORT = "EvaluationReport"
PUSHER = "Pusher"
SMOKE_CHECK = "ServingSmokeCheck"
