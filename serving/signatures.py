"""The served model's signature contract (names, dtypes) and the predictions every backend returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TypeVar

import numpy as np

from data.classes import CLASS_NAMES

T = TypeVar("T")

DEFAULT_MODEL_NAME = "fashion-tfx"
MAX_BATCH = 256  # default cap on images per request
SERVING_DEFAULT = "serving_default"  # input: serialized tf.Examples
PREDICT_IMAGES = "predict_images"  # input: float32 [N, 28, 28] grey levels
EMBED = "embed"  # input: float32 [N, 28, 28] grey levels

# The single input of each signature the clients call.
INPUT_NAMES = {SERVING_DEFAULT: "examples", PREDICT_IMAGES: "images", EMBED: "images"}
PREDICTION_SIGNATURES = (PREDICT_IMAGES, SERVING_DEFAULT)
PROBABILITIES = "probabilities"
CLASS_ID = "class_id"
CLASS_NAME = "class_name"
OUTPUT_NAMES = (PROBABILITIES, CLASS_ID, CLASS_NAME)
EMBEDDING = "embedding"  # the output of `embed`
# The PNG contract of `serving_default`'s examples, enforced by the client and by the served graph.
MAX_PNG_BYTES = 1 << 20  # a 28x28 PNG is well under 1 KB; anything larger could be a bomb
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_MAX_BIT_DEPTH = 8  # 16-bit PNGs are refused (the model takes 8-bit grey levels)
PNG_GREY_COLOUR_TYPE = 0  # the IHDR colour type of a grey PNG; the served graph refuses the others
# TF Serving's two REST request formats: row ("instances") and columnar ("inputs").
REST_FORMATS = ("instances", "inputs")
# How far one input's probabilities may sum from 1 (float32 softmax sums lie within about 1e-6).
PROBABILITY_SUM_TOLERANCE = 1e-3


class ServingError(RuntimeError):
    """The model (local or remote) could not answer; the message says what failed and where."""


def signature_named(signatures: Mapping[str, T], name: str, model: object) -> T:
    """`signatures[name]`, or a ServingError naming the model and the signatures it has."""
    if name not in signatures:
        raise ServingError(f"{model}: no signature {name!r} (has: {', '.join(sorted(signatures))})")
    return signatures[name]


@dataclasses.dataclass(frozen=True)
class Predictions:
    """What a prediction signature returns, as NumPy arrays.

    Attributes:
        probabilities: float32 [N, 10].
        class_id: int64 [N].
        class_name: str [N].
    """

    probabilities: np.ndarray
    class_id: np.ndarray
    class_name: tuple[str, ...]

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, object], source: str) -> Predictions:
        """Builds Predictions from a mapping of output name to value, checking them as untrusted.

        Every backend's answer passes here (a remote server's most of all): the shapes must agree,
        probabilities must be finite, in 0..1 and sum to 1 (within `PROBABILITY_SUM_TOLERANCE`) per
        input, each class id must be a known class and each class name that class's name.

        Raises:
            ServingError: an output is missing, malformed, or breaks the contract above.
        """
        missing = [name for name in OUTPUT_NAMES if name not in outputs]
        if missing:
            raise ServingError(f"{source}: response lacks output(s) {', '.join(missing)}")
        try:
            probabilities = np.asarray(outputs[PROBABILITIES], dtype=np.float64)
            raw_ids = np.asarray(outputs[CLASS_ID])
            raw_names = np.asarray(outputs[CLASS_NAME], dtype=object).ravel()
        except (TypeError, ValueError, OverflowError) as err:  # ragged lists, strings as numbers
            raise ServingError(f"{source}: malformed outputs ({type(err).__name__}: {err})") from err
        if raw_ids.dtype.kind not in "iu" or raw_ids.ndim != 1:
            raise ServingError(
                f"{source}: class_id must be a list of integers, got {raw_ids.dtype} {list(raw_ids.shape)}"
            )
        class_id = raw_ids.astype(np.int64)
        count = len(class_id)
        if probabilities.shape != (count, len(CLASS_NAMES)) or len(raw_names) != count:
            raise ServingError(
                f"{source}: inconsistent outputs: probabilities {list(probabilities.shape)}, "
                f"class_id {list(class_id.shape)}, {len(raw_names)} class names"
            )
        if not np.isfinite(probabilities).all() or (probabilities < 0).any() or (probabilities > 1).any():
            raise ServingError(f"{source}: probabilities must be finite values in 0..1")
        sums = probabilities.sum(axis=1)
        if (np.abs(sums - 1) > PROBABILITY_SUM_TOLERANCE).any():
            worst = float(sums[np.argmax(np.abs(sums - 1))])
            raise ServingError(f"{source}: the probabilities of an input sum to {worst:g}, not 1")
        unknown = class_id[(class_id < 0) | (class_id >= len(CLASS_NAMES))]
        if unknown.size:
            raise ServingError(
                f"{source}: unknown class id {int(unknown[0])} (the model has {len(CLASS_NAMES)})"
            )
        names = []
        for value, known in zip(raw_names, class_id, strict=True):
            name = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
            if name != CLASS_NAMES[known]:
                raise ServingError(
                    f"{source}: class name {name!r} is not the name of class {known} ({CLASS_NAMES[known]!r})"
                )
            names.append(CLASS_NAMES[known])
        return cls(probabilities=probabilities.astype(np.float32), class_id=class_id, class_name=tuple(names))

    def __len__(self) -> int:
        return len(self.class_id)

    def top(self, index: int, k: int = 3) -> list[tuple[str, float]]:
        """Returns the k most probable (class name, probability) pairs of one input."""
        order = np.argsort(-self.probabilities[index], kind="stable")[:k]
        return [(CLASS_NAMES[i], float(self.probabilities[index, i])) for i in order]


# A version's folder of extra files, which TF Serving does not load as the model: the warm-up requests
# (PredictionLog records, at most 1,000; the export writes them, the smoke check replays them) and the
# model card the Pusher ships.
ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000
