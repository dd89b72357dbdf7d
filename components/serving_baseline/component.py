"""ServingBaseline and ServedBaseModel: Python-function components that copy the served model.

They replace TFX's latest-blessed-model Resolver, which the open-source Kubeflow Pipelines backend
cannot run (`resolver executors not implemented`): each is a plain container step on every runner.
The baseline is the model TF Serving serves now, the newest version under the serving root, which is
what a candidate must not fall behind. On the first run nothing is served: the output then holds no
model and records `found` = 0; the Evaluator (components/evaluator) then drops it, so only the
absolute floor applies, and the Trainer builds no base-model network from it.

Cache keys: ServingBaseline's input is the candidate model, so the look-up runs again for every new
candidate and is reused while the candidate is unchanged (a rerun of an unchanged pipeline neither
re-evaluates nor re-pushes). ServedBaseModel's input is the training examples: the base model is looked
up again whenever the training data changes.
"""

# No `from __future__ import annotations` here: the @component decorator reads real annotations.

import posixpath

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.serving_baseline.baseline import copy_served_model

FOUND_PROPERTY = "found"  # 1: the artifact holds the served model; 0: nothing was served
VERSION_PROPERTY = "served_version"
SOURCE_PROPERTY = "served_from"


def _copy_into(model: standard_artifacts.Model, serving_model_dir: str) -> None:
    # Format-Serving: where TFX's Evaluator and Trainer look for a Model artifact's SavedModel.
    version = copy_served_model(serving_model_dir, path_utils.serving_model_dir(model.uri))
    model.set_int_custom_property(FOUND_PROPERTY, int(version is not None))
    if version is not None:
        model.set_int_custom_property(VERSION_PROPERTY, version)
        model.set_string_custom_property(SOURCE_PROPERTY, posixpath.join(serving_model_dir, str(version)))


@component
def ServingBaseline(  # noqa: N802  (TFX names components like classes)
    candidate: InputArtifact[standard_artifacts.Model],
    baseline: OutputArtifact[standard_artifacts.Model],
    serving_model_dir: Parameter[str],
) -> None:
    """Copies the model served now under `serving_model_dir`, the baseline `candidate` is compared with."""
    del candidate  # only the cache key: a new candidate gets a fresh look-up
    _copy_into(baseline, serving_model_dir)


@component
def ServedBaseModel(  # noqa: N802  (TFX names components like classes)
    examples: InputArtifact[standard_artifacts.Examples],
    model: OutputArtifact[standard_artifacts.Model],
    serving_model_dir: Parameter[str],
) -> None:
    """Copies the model served now under `serving_model_dir`: the trunk the `transfer` family reuses."""
    del examples  # only the cache key: new training data gets a fresh look-up
    _copy_into(model, serving_model_dir)


def has_model(model: standard_artifacts.Model) -> bool:
    """Returns False for a baseline artifact that found nothing served (it holds no model)."""
    return not model.has_custom_property(FOUND_PROPERTY) or model.get_int_custom_property(FOUND_PROPERTY) == 1
