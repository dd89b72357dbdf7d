"""The golden-set check: a model's accuracy on the golden set, through the signature clients call.

Plain functions (no TFX): the Evaluator's executor calls them after TFMA's own validation.
"""

from __future__ import annotations

import numpy as np

from data.golden import GoldenSet, GoldenSetError, load_golden_set

GOLDEN_SET_PROPERTY = "golden_set"  # JSON on the Evaluator's blessing: see `golden_set_check`
BATCH = 200
# What the golden-set check can and cannot catch, said wherever its verdict is shown (the run summary;
# the evaluation report may quote it too), not only in docs/reliability.md.
GOLDEN_SET_LIMITS = (
    "it catches gross poisoning (shifted labels, other data), not subtle poisoning: 30 % of labels "
    "flipped at random still passes a low floor such as the test profile's"
)


def score_golden_set(model_dir: str, golden: GoldenSet) -> float:
    """Returns the model's accuracy on the golden set, scored through `serving_default`.

    Raises:
        ServingError: the model does not load or does not answer.
    """
    from serving.local import LocalModel
    from serving.payloads import make_payload
    from serving.signatures import SERVING_DEFAULT

    model = LocalModel(model_dir)
    predicted = []
    for start in range(0, len(golden.labels), BATCH):
        images = golden.images[start : start + BATCH].astype(np.float32)
        payload = make_payload(images, list(golden.ids[start : start + BATCH]))
        predicted.append(model.predict(payload, SERVING_DEFAULT).class_id)
    return float(np.mean(np.concatenate(predicted) == golden.labels.astype(np.int64)))


def golden_set_check(
    model_dir: str, floor: float | None, candidates: list[str], installed: list[str] | None = None
) -> dict:
    """Scores the model on the golden set against the floor; fails closed.

    Args:
        model_dir: the candidate's SavedModel.
        floor: the accuracy the model must reach (see `eval_config.accuracy_floor`).
        candidates: folders that may hold the canonical test files (checked by SHA-256).
        installed: where installed copies are looked for after `candidates` (see
            `data.golden.load_golden_set`); None means the Debian package's folder and the user cache.

    Returns:
        A JSON-ready verdict: `passed`, and `accuracy`, `floor`, `examples`, `source`, or `reason`
        when the check could not run (no golden set, no floor): then `passed` is False.
    """
    if floor is None:
        return {"passed": False, "reason": "the evaluation sets no accuracy floor to hold the golden set to"}
    try:
        golden = load_golden_set(candidates, installed=installed)
    except GoldenSetError as err:
        return {"passed": False, "floor": floor, "reason": str(err)}
    accuracy = score_golden_set(model_dir, golden)
    return {
        "passed": accuracy >= floor,
        "accuracy": accuracy,
        "floor": floor,
        "examples": int(len(golden.labels)),
        "source": str(golden.directory),
    }
