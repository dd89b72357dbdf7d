"""The one pipeline factory: every runner (local, Kubeflow) builds its pipeline here."""

from __future__ import annotations

from tfx.components import ExampleValidator, StatisticsGen
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration import pipeline as tfx_pipeline

from fashion_tfx.components.drift_gate.component import DriftGate
from fashion_tfx.components.example_gen.component import IdxExampleGen
from fashion_tfx.pipeline.config import PipelineConfig


def create_components(config: PipelineConfig) -> list:
    """Returns the pipeline's components in execution order, wired together."""
    example_gen = IdxExampleGen(
        data_dir=config.data_dir or "",
        data_fingerprint=config.data_fingerprint,
        eval_fraction=config.eval_fraction,
        seed=config.seed,
        split_caps=config.caps(),
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    # A curated schema (data/schema.pbtxt), not one inferred from the data it is meant to check.
    schema_gen = ImportSchemaGen(schema_file=config.schema_file)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    drift_gate = DriftGate(
        anomalies=example_validator.outputs["anomalies"], stop_on_anomalies=config.stop_on_anomalies
    )
    return [example_gen, statistics_gen, schema_gen, example_validator, drift_gate]


def create_pipeline(config: PipelineConfig, metadata_connection_config: object | None = None):
    """Builds the TFX pipeline.

    Args:
        config: the validated configuration; its `data_dir` must already be resolved.
        metadata_connection_config: ML Metadata connection (SQLite locally; None on Kubeflow,
            which provides its own).

    Returns:
        A `tfx.orchestration.pipeline.Pipeline`.
    """
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=str(config.pipeline_root),
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args),
    )
