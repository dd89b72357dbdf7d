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
        """Builds Predictions from a mapping of output name to value, checking shapes agree.

        Raises:
            ServingError: an output is missing or the shapes are inconsistent.
        """
        missing = [name for name in OUTPUT_NAMES if name not in outputs]
        if missing:
            raise ServingError(f"{source}: response lacks output(s) {', '.join(missing)}")
        probabilities = np.asarray(outputs[PROBABILITIES], dtype=np.float32)
        class_id = np.asarray(outputs[CLASS_ID]).astype(np.int64)
        names = tuple(
            v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(outputs[CLASS_NAME]).ravel()
        )
        count = len(class_id)
        if probabilities.shape != (count, len(CLASS_NAMES)) or len(names) != count or class_id.ndim != 1:
            raise ServingError(
                f"{source}: inconsistent outputs: probabilities {list(probabilities.shape)}, "
                f"class_id {list(class_id.shape)}, {len(names)} class names"
            )
        return cls(probabilities=probabilities, class_id=class_id, class_name=names)

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
