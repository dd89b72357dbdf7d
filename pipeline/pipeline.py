"""The one pipeline factory: every runner (local, Kubeflow) builds its pipeline here."""

from __future__ import annotations

from tfx.components import ExampleValidator, StatisticsGen, Trainer, Transform
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import trainer_pb2

from fashion_tfx.components.drift_gate.component import DriftGate
from fashion_tfx.components.evaluation_report.component import EvaluationReport
from fashion_tfx.components.evaluator.component import TrustedEvaluator
from fashion_tfx.components.example_gen.component import IdxExampleGen
from fashion_tfx.components.pusher.component import ModelPusher
from fashion_tfx.components.serving_baseline.component import ServedBaseModel, ServingBaseline
from fashion_tfx.components.serving_check.component import ServingSmokeCheck
from fashion_tfx.components.upscaler.component import ImageUpscaler
from fashion_tfx.models.fingerprint import code_fingerprint
from fashion_tfx.models.search_space import BASE_MODEL, ModelSettings
from fashion_tfx.models.tuner import Tuner
from fashion_tfx.pipeline.config import SOURCE_SIZE, PipelineConfig
from fashion_tfx.pipeline.evaluation import make_eval_config


def create_components(config: PipelineConfig) -> list:
    """Returns the pipeline's components in execution order, wired together."""
    example_gen = IdxExampleGen(
        data_dir=config.data_dir or "",
        data_fingerprint=config.data_fingerprint,
        eval_fraction=config.eval_fraction,
        seed=config.seed,
        split_caps=config.caps(),
        allow_foreign_data=config.allow_foreign_data,
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
    # Statistics, schema and validation describe the raw 28×28 examples (the data as it arrives); the
    # upscale is a deterministic function of them, checked by its own fidelity report. It waits for the
    # drift gate, so anomalous data is neither upscaled nor trained on.
    upscaler = ImageUpscaler(
        examples=example_gen.outputs["examples"],
        image_size=config.image_size,
        interpolation=config.interpolation,
    ).with_id("ImageUpscaler")
    upscaler.add_upstream_node(drift_gate)
    components = [example_gen, statistics_gen, schema_gen, example_validator, drift_gate, upscaler]
    model = model_components(config, upscaler.outputs["examples"], schema_gen.outputs["schema"])
    trainer = model[-1]
    return components + model + release_components(config, example_gen.outputs["examples"], trainer)


def release_components(config: PipelineConfig, raw_examples, trainer) -> list:
    """Returns the Evaluator, its report, the Pusher and the serving smoke check.

    The Evaluator scores the raw 28×28 test split through `serving_default`, the signature clients
    call, against an absolute floor and against the model served now (ServingBaseline: the newest
    version under the serving root, a plain container step on every runner), and the golden set
    (canonical test images verified by SHA-256) against the same floor; only a blessed model is
    pushed, with the model card the report wrote, and a pushed model must then load and answer in a
    fresh process before clients can see it.
    """
    model_dir = served_model_dir(config)
    baseline = ServingBaseline(candidate=trainer.outputs["model"], serving_model_dir=model_dir)
    # TFX's Evaluator, whose blessing also needs the golden set, and which drops a baseline artifact
    # that holds no model (nothing served yet).
    evaluator = TrustedEvaluator(
        examples=raw_examples,
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["baseline"],
        eval_config=make_eval_config(config.min_accuracy, config.max_accuracy_drop),
        example_splits=["test"],
    ).with_id("Evaluator")
    report = EvaluationReport(
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        examples=raw_examples,
        data_source=config.data_dir or "",
        data_fingerprint=config.data_fingerprint,
        baseline_model=baseline.outputs["baseline"],
    )
    pusher = ModelPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        report=report.outputs["report"],
        base_directory=model_dir,
    ).with_id("Pusher")
    smoke_check = ServingSmokeCheck(pushed_model=pusher.outputs["pushed_model"], examples=raw_examples)
    return [baseline, evaluator, report, pusher, smoke_check]


def served_model_dir(config: PipelineConfig) -> str:
    """The TF Serving model folder the Pusher writes to and the baseline is read from."""
    return str(config.serving_dir / config.pipeline_name)


def model_settings(config: PipelineConfig) -> ModelSettings:
    """Returns what the model code needs from the configuration (the Transform input is upscaled)."""
    return ModelSettings(
        image_size=config.image_size,
        source_size=SOURCE_SIZE,
        upscale=True,
        interpolation=config.interpolation,
        families=config.model_families,
        stems=config.stems,
        backbone=config.backbone,
        backbone_weights=config.backbone_weights,
        tuner="hyperband" if config.tuner == "none" else config.tuner,
        tuner_trials=config.tuner_trials,
        tuner_epochs=config.tuner_epochs,
        tuner_train_cap=config.tuner_train_cap,
        batch_size=config.batch_size,
        train_epochs=config.train_epochs,
        patience=config.patience,
        seed=config.seed,
        precision=config.precision,
        test_time_flip=config.test_time_flip,
    )


def model_components(config: PipelineConfig, examples, schema) -> list:
    """Returns Transform, the Tuner (unless `config.tuner` is `none`) and the Trainer, wired together.

    Transform does not materialise its output (float32 images at 128×128 would take ~4.6 GB); the
    Tuner and Trainer apply its graph in their input pipelines, and the export embeds it.
    """
    settings = model_settings(config)
    # Function paths do not pin the code's content: the fingerprint makes TFX's cache notice edits.
    custom_config = {**settings.to_custom_config(), "code_fingerprint": code_fingerprint()}
    transform = Transform(
        examples=examples,
        schema=schema,
        preprocessing_fn="fashion_tfx.models.preprocessing.preprocessing_fn",
        materialize=False,
        disable_statistics=True,
        custom_config=custom_config,
    )
    components: list = [transform]
    base_model = None
    if "transfer" in config.model_families and config.backbone_weights == BASE_MODEL:
        served = ServedBaseModel(examples=examples, serving_model_dir=served_model_dir(config))
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
    if config.tuner != "none":
        tuner = Tuner(tuner_fn="fashion_tfx.models.tuner.tuner_fn", **common).with_id("Tuner")
        components.append(tuner)
        hyperparameters = tuner.outputs["best_hyperparameters"]
    trainer = Trainer(run_fn="fashion_tfx.models.trainer.run_fn", hyperparameters=hyperparameters, **common)
    return [*components, trainer]


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
