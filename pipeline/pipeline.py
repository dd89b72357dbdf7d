"""The one pipeline factory: every runner (local, Kubeflow) builds its pipeline here."""

from __future__ import annotations

import dataclasses

from tfx import types
from tfx.components import ExampleValidator, StatisticsGen, Trainer, Transform
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import trainer_pb2

from components.anomaly_gate.component import AnomalyGate
from components.evaluation_report.component import EvaluationReport
from components.evaluator.component import GoldenSetEvaluator
from components.evaluator.eval_config import make_eval_config
from components.example_gen.component import IdxExampleGen
from components.pusher.component import ModelPusher
from components.serving_baseline.component import ServedModelCopy
from components.serving_check.component import ServingSmokeCheck
from components.tuner.component import Tuner
from components.upscaler.component import ImageUpscaler
from models.settings import BASE_MODEL, NO_TUNER, TRANSFER, ModelSettings
from pipeline import nodes
from pipeline.config import ConfigError, PipelineConfig, with_beam_dependency
from pipeline.fingerprint import MODEL_CODE, REPORT_CODE, UPSCALER_CODE, code_fingerprint


@dataclasses.dataclass(frozen=True)
class DataStage:
    """The data half: ingestion, statistics, schema, validation, anomaly gate and the upscaler.

    Attributes:
        components: in execution order.
        raw_examples: ExampleGen's 28×28 examples (what the Evaluator scores, as clients send them).
        examples: the upscaled examples Transform, Tuner and Trainer read.
        schema: the curated schema of the raw examples.
    """

    components: list
    raw_examples: types.BaseChannel
    examples: types.BaseChannel
    schema: types.BaseChannel


@dataclasses.dataclass(frozen=True)
class ModelStage:
    """Transform, the optional ServedBaseModel and Tuner, and the Trainer (named: the release reads it)."""

    components: list
    trainer: Trainer


def create_components(config: PipelineConfig, stop_after: str | None = None) -> list:
    """Returns the pipeline's components in execution order, wired together.

    Args:
        config: the validated configuration.
        stop_after: a node id (`pipeline.nodes`): the pipeline ends with that component (tests and
            `fashion-tfx run --stop-after` use this seam to run part of the real pipeline); None for all.

    Raises:
        ConfigError: `stop_after` names no component of this configuration's pipeline.
    """
    data = data_components(config)
    model = model_components(config, data.examples, data.schema)
    components = data.components + model.components
    components += release_components(config, data.raw_examples, model.trainer)
    if stop_after is None:
        return components
    ids = [component.id for component in components]
    if stop_after not in ids:
        raise ConfigError(
            f"--stop-after: no component {stop_after!r} in the pipeline (it has {', '.join(ids)})"
        )
    # Components come in execution order and depend only on earlier ones, so a prefix is a pipeline.
    return components[: ids.index(stop_after) + 1]


def data_components(config: PipelineConfig) -> DataStage:
    """Returns ExampleGen, StatisticsGen, ImportSchemaGen, ExampleValidator, AnomalyGate and ImageUpscaler."""
    example_gen = IdxExampleGen(
        data_dir=config.data_dir or "",
        data_fingerprint=config.data_fingerprint,
        eval_fraction=config.eval_fraction,
        seed=config.seed,
        split_caps=config.caps(),
        allow_foreign_data=config.allow_foreign_data,
    ).with_id(nodes.EXAMPLE_GEN)
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"]).with_id(nodes.STATISTICS_GEN)
    # A curated schema (data/schema.pbtxt), not one inferred from the data it is meant to check.
    schema_gen = ImportSchemaGen(schema_file=config.schema_file).with_id(nodes.SCHEMA_GEN)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(nodes.EXAMPLE_VALIDATOR)
    anomaly_gate = AnomalyGate(
        anomalies=example_validator.outputs["anomalies"], stop_on_anomalies=config.stop_on_anomalies
    ).with_id(nodes.ANOMALY_GATE)
    # Statistics, schema and validation describe the raw 28×28 examples (the data as it arrives); the
    # upscale is a deterministic function of them, checked by its own fidelity report. It waits for the
    # anomaly gate, so anomalous data is neither upscaled nor trained on.
    upscaler = ImageUpscaler(
        examples=example_gen.outputs["examples"],
        image_size=config.model.image_size,
        interpolation=config.model.interpolation,
        # The parameters do not pin the resize's code: its digest makes TFX's cache notice edits.
        code_fingerprint=code_fingerprint(UPSCALER_CODE),
    ).with_id(nodes.UPSCALER)
    upscaler.add_upstream_node(anomaly_gate)
    return DataStage(
        components=[example_gen, statistics_gen, schema_gen, example_validator, anomaly_gate, upscaler],
        raw_examples=example_gen.outputs["examples"],
        examples=upscaler.outputs["examples"],
        schema=schema_gen.outputs["schema"],
    )


def release_components(config: PipelineConfig, raw_examples: types.BaseChannel, trainer: Trainer) -> list:
    """Returns the Evaluator, its report, the Pusher and the serving smoke check.

    The Evaluator scores the raw 28×28 test split through `serving_default`, the signature clients
    call, against an absolute floor and against the model served now (ServingBaseline: the newest
    version under the serving root, a plain container step on every runner), and the golden set
    (canonical test images verified by SHA-256) against the same floor; only a blessed model is
    pushed, with the model card the report wrote, and a pushed model must then load and answer in a
    fresh process before clients can see it.
    """
    model_dir = served_model_dir(config)
    baseline = ServedModelCopy(candidate=trainer.outputs["model"], serving_model_dir=model_dir).with_id(
        nodes.SERVING_BASELINE
    )
    # TFX's Evaluator, whose blessing also needs the golden set, and which drops a baseline artifact
    # that holds no model (nothing served yet).
    evaluator = GoldenSetEvaluator(
        examples=raw_examples,
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"],
        eval_config=make_eval_config(config.min_accuracy, config.max_accuracy_drop),
        example_splits=["test"],
    ).with_id(nodes.EVALUATOR)
    report = EvaluationReport(
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        examples=raw_examples,
        data_source=config.data_dir or "",
        data_fingerprint=config.data_fingerprint,
        baseline_model=baseline.outputs["model"],
        code_fingerprint=code_fingerprint(REPORT_CODE),
    ).with_id(nodes.EVALUATION_REPORT)
    pusher = ModelPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        report=report.outputs["report"],
        base_directory=model_dir,
    ).with_id(nodes.PUSHER)
    smoke_check = ServingSmokeCheck(
        pushed_model=pusher.outputs["pushed_model"],
        examples=raw_examples,
        serving_base_path=config.serving_base_path or "",
    ).with_id(nodes.SMOKE_CHECK)
    return [baseline, evaluator, report, pusher, smoke_check]


def served_model_dir(config: PipelineConfig) -> str:
    """The TF Serving model folder the Pusher writes to and the baseline is read from."""
    return str(config.serving_dir / config.pipeline_name)


def model_settings(config: PipelineConfig) -> ModelSettings:
    """Returns what the model code needs from the configuration: its settings, with the upscale on.

    The Transform input is the ImageUpscaler's output, so the serving graph must upscale raw images.
    """
    return dataclasses.replace(config.model, upscale=True)


def model_components(
    config: PipelineConfig, examples: types.BaseChannel, schema: types.BaseChannel
) -> ModelStage:
    """Returns Transform, the Tuner (unless the settings' `tuner` is `none`) and the Trainer, wired together.

    Transform does not materialise its output (float32 images at 128×128 would take ~4.6 GB); the
    Tuner and Trainer apply its graph in their input pipelines, and the export embeds it.
    """
    settings = model_settings(config)
    # Function paths do not pin the code's content: the fingerprint makes TFX's cache notice edits.
    custom_config = {**settings.to_custom_config(), "code_fingerprint": code_fingerprint(MODEL_CODE)}
    transform = Transform(
        examples=examples,
        schema=schema,
        preprocessing_fn="models.preprocessing.preprocessing_fn",
        materialize=False,
        disable_statistics=True,
        custom_config=custom_config,
    ).with_id(nodes.TRANSFORM)
    components: list = [transform]
    base_model = None
    if TRANSFER in settings.families and settings.backbone_weights == BASE_MODEL:
        served = ServedModelCopy(examples=examples, serving_model_dir=served_model_dir(config)).with_id(
            nodes.SERVED_BASE_MODEL
        )
        components.append(served)
        base_model = served.outputs["model"]
    common = dict(
        examples=examples,
        transform_graph=transform.outputs["transform_graph"],
        base_model=base_model,
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config=custom_config,
    )
    hyperparameters = None
    if settings.tuner != NO_TUNER:
        tuner = Tuner(tuner_fn="models.tuner.tuner_fn", **common).with_id(nodes.TUNER)
        components.append(tuner)
        hyperparameters = tuner.outputs["best_hyperparameters"]
    trainer = Trainer(run_fn="models.trainer.run_fn", hyperparameters=hyperparameters, **common).with_id(
        nodes.TRAINER
    )
    return ModelStage(components=[*components, trainer], trainer=trainer)


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config: object | None = None,
    stop_after: str | None = None,
    setup_file: str | None = None,
):
    """Builds the TFX pipeline.

    Args:
        config: the validated configuration; its `data_dir` must already be resolved.
        metadata_connection_config: ML Metadata connection (SQLite locally; None on Kubeflow,
            which provides its own).
        stop_after: the node id the pipeline ends with (see `create_components`); None for all.
        setup_file: the project's setup.py where the Beam steps run, named as their dependency
            (`pipeline.config.with_beam_dependency`); None leaves TFX to build its own package.

    Returns:
        A `tfx.orchestration.pipeline.Pipeline`.
    """
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=str(config.pipeline_root),
        components=create_components(config, stop_after),
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(with_beam_dependency(config.beam_args, setup_file)),
    )
