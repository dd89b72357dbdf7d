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
