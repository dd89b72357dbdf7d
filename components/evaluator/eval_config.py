"""The TFMA evaluation the Evaluator runs: the served signature, metrics, slices and blessing thresholds."""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from data.examples import LABEL_KEY
from serving.signatures import PROBABILITIES, SERVING_DEFAULT

ACCURACY_METRIC = "SparseCategoricalAccuracy"  # the Keras metric class TFMA computes and gates on
ACCURACY = "sparse_categorical_accuracy"  # the name TFMA records its value under


def make_eval_config(min_accuracy: float, max_accuracy_drop: float) -> tfma.EvalConfig:
    """Builds the EvalConfig: bless only above `min_accuracy` and not worse than the last blessed model.

    The model is evaluated through `serving_default`, the signature clients call, on raw 28×28
    examples, so what is blessed is exactly what is served.

    Args:
        min_accuracy: absolute lower bound on test accuracy.
        max_accuracy_drop: largest accuracy drop against the latest blessed model still blessed
            (0 means any drop is a regression).
    """
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_accuracy_drop}
        ),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(signature_name=SERVING_DEFAULT, label_key=LABEL_KEY, prediction_key=PROBABILITIES)
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    # The bounds apply to the overall slice only: per-label slices are reported,
                    # not gated (a class's accuracy is its recall, naturally lower for shirts).
                    tfma.MetricConfig(
                        class_name=ACCURACY_METRIC,
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(
                                slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_threshold
                            )
                        ],
                    ),
                    tfma.MetricConfig(class_name="ExampleCount"),
                    # The one source of every per-class figure: top-1 predictions counted per
                    # (actual, predicted) pair. TFMA's Precision/Recall binarized by class id count
                    # a class as predicted when its probability passes 0.5, not when it is the
                    # top-1 class, so they disagreed with this matrix, and TFMA 0.47's top_k=1
                    # variant counts a never-predicted class's images as hits. The report derives
                    # recall and precision from this matrix instead (docs/evaluation.md).
                    tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
                ]
            ),
        ],
    )


def _accuracy_thresholds(eval_config: tfma.EvalConfig) -> list[tfma.MetricThreshold]:
    thresholds = []
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            if metric.class_name == ACCURACY_METRIC:
                thresholds += [metric.threshold] if metric.HasField("threshold") else []
                thresholds += [t.threshold for t in metric.per_slice_thresholds]
    return thresholds


def accuracy_floor(eval_config: tfma.EvalConfig) -> float | None:
    """Returns the absolute accuracy floor an EvalConfig sets (None if it sets none).

    The one reader of the floor: the Evaluator holds the golden set to it, and the report shows it.
    """
    floors = [
        t.value_threshold.lower_bound.value
        for t in _accuracy_thresholds(eval_config)
        if t.HasField("value_threshold") and t.value_threshold.HasField("lower_bound")
    ]
    return max(floors) if floors else None


def largest_accuracy_drop(eval_config: tfma.EvalConfig) -> float | None:
    """Returns the largest accuracy drop against the baseline an EvalConfig allows (None: not applied)."""
    drops = [
        -t.change_threshold.absolute.value
        for t in _accuracy_thresholds(eval_config)
        if t.HasField("change_threshold")
    ]
    return min(drops) if drops else None
