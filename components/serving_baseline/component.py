"""ServedModelCopy: a Python-function component that copies the model served now.

It replaces TFX's latest-blessed-model Resolver, which the open-source Kubeflow Pipelines backend
cannot run (`resolver executors not implemented`): a plain container step on every runner. The copy
is the model TF Serving serves now, the newest version under the serving root. The pipeline uses it
twice, each node named by the TFX input it feeds (`pipeline/nodes.py`): `ServingBaseline`, the
Evaluator's baseline, which a candidate must not fall behind, and `ServedBaseModel`, the Trainer's
base model (the trunk the `transfer` family reuses). On the first run nothing is served: the output
then holds no model and records `found` = 0; the Evaluator (components/evaluator) then drops it, so
only the absolute floor applies, and the Trainer builds no base-model network from it.

Cache keys: the one input given is only the cache key. The baseline's is the candidate model, so the
look-up runs again for every new candidate and is reused while the candidate is unchanged (a rerun of
an unchanged pipeline neither re-evaluates nor re-pushes). The base model's is the training examples:
it is looked up again whenever the training data changes.
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


@component
def ServedModelCopy(  # noqa: N802  (TFX names components like classes)
    model: OutputArtifact[standard_artifacts.Model],
    serving_model_dir: Parameter[str],
    # Optional inputs: TFX reads a default of None as "may be left out".
    candidate: InputArtifact[standard_artifacts.Model] = None,  # type: ignore[assignment]
    examples: InputArtifact[standard_artifacts.Examples] = None,  # type: ignore[assignment]
) -> None:
    """Copies the model served now under `serving_model_dir` into `model` (see the module docstring).

    Args:
        model: the copy (empty, with `found` = 0, when nothing is served).
        serving_model_dir: TF Serving's model folder.
        candidate: the baseline's cache key: a new candidate gets a fresh look-up.
        examples: the base model's cache key: new training data gets a fresh look-up.
    """
    del candidate, examples  # only cache keys
    # Format-Serving: where TFX's Evaluator and Trainer look for a Model artifact's SavedModel.
    version = copy_served_model(serving_model_dir, path_utils.serving_model_dir(model.uri))
    model.set_int_custom_property(FOUND_PROPERTY, int(version is not None))
    if version is not None:
        model.set_int_custom_property(VERSION_PROPERTY, version)
        model.set_string_custom_property(SOURCE_PROPERTY, posixpath.join(serving_model_dir, str(version)))


def has_model(model: standard_artifacts.Model) -> bool:
    """Returns False for a baseline artifact that found nothing served (it holds no model)."""
    return not model.has_custom_property(FOUND_PROPERTY) or model.get_int_custom_property(FOUND_PROPERTY) == 1
