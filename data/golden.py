"""The golden set: a checksum-verified, class-balanced slice of the canonical test set every model must pass.

A model is trained on whatever data the run was given; whether it may be blessed is also decided on
data the pipeline can trust whatever it was given: images of the canonical Fashion-MNIST test set
whose content matches the published SHA-256, wherever they were found. Label-shifted or foreign
training data yields a model that fails here, even when it scores well on its own (poisoned) test split.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from data import fashion_mnist as fm
from data.classes import CLASS_NAMES, NUM_CLASSES
from data.idx import IMAGES_MAGIC, LABELS_MAGIC, IdxFormatError, parse_idx, read_bytes
from data.resize import SOURCE_SIZE

# 100 test images of each class (the first in file order): 1,000 images, a standard error of about
# 1.5 points on accuracy, scored in seconds even at 128×128.
GOLDEN_PER_CLASS = 100


class GoldenSetError(fm.DatasetError):
    """No checksum-verified copy of the canonical test files was found; no model can be blessed."""


@dataclasses.dataclass(frozen=True)
class GoldenSet:
    """The golden images and labels, and where they were read from.

    Attributes:
        directory: the folder whose test files matched the canonical SHA-256.
        images: uint8 [N, 28, 28].
        labels: uint8 [N], `per_class` of each class.
        ids: `t10k-images-idx3-ubyte:<index>` of each image.
    """

    directory: Path
    images: np.ndarray
    labels: np.ndarray
    ids: tuple[str, ...]


def default_candidates() -> list[Path]:
    """Returns where canonical copies are installed: the Debian package's folder, then the user cache."""
    return [fm.DEBIAN_DIR, fm.default_cache_dir()]


def _verified_content(directory: Path, name: str) -> bytes | None:
    """Returns a file's decompressed content if it matches the canonical SHA-256, else None."""
    try:
        content = read_bytes(fm.file_path(directory, name))
    except IdxFormatError:
        return None
    return content if hashlib.sha256(content).hexdigest() == fm.CANONICAL_SHA256[name] else None


def load_golden_set(
    candidates: Iterable[str | Path | None] = (),
    per_class: int = GOLDEN_PER_CLASS,
    installed: Iterable[str | Path] | None = None,
) -> GoldenSet:
    """Reads the golden set from the first folder whose two test files match the canonical SHA-256.

    The bytes that are hashed are the bytes that are parsed, so a file swapped after its check is
    never used.

    Args:
        candidates: folders to try first (e.g. the run's data folder); the installed copies follow.
        per_class: images of each class to keep.
        installed: where installed copies are looked for after `candidates`; None means
            `default_candidates()` (the Debian package's folder, then the user cache). A test passes
            its own folders (or none) to see what happens on a machine without them.

    Raises:
        GoldenSetError: no folder holds verified copies (the message lists the folders tried).
    """
    tried = []
    for candidate in [*candidates, *(default_candidates() if installed is None else installed)]:
        if not candidate:
            continue
        directory = Path(candidate)
        if directory in tried:
            continue
        tried.append(directory)
        images_content = _verified_content(directory, fm.TEST_IMAGES)
        labels_content = images_content and _verified_content(directory, fm.TEST_LABELS)
        if not labels_content:
            continue
        images = parse_idx(images_content, IMAGES_MAGIC, fm.TEST_IMAGES)
        labels = parse_idx(labels_content, LABELS_MAGIC, fm.TEST_LABELS)
        positions = np.sort(
            np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(NUM_CLASSES)])
        )
        ids = tuple(f"{fm.TEST_IMAGES}:{int(p)}" for p in positions)
        return GoldenSet(directory, images[positions], labels[positions], ids)
    raise GoldenSetError(
        "no trusted golden set: the canonical Fashion-MNIST test files (t10k-*) were not found with "
        f"their published SHA-256 in {', '.join(map(str, tried))}; without them no model can be "
        f"blessed. Install the Debian package dataset-fashion-mnist or run `fashion-tfx data` to "
        "download them"
    )


def class_resemblance(images: np.ndarray, labels: np.ndarray, golden: GoldenSet) -> dict[int, int]:
    """Returns, for each class present in the data, the canonical class its mean image is nearest to.

    A semantic check the schema cannot make: a label-shifted copy of Fashion-MNIST maps class k to
    canonical class k-1; other data maps its classes arbitrarily.

    Args:
        images: uint8 [N, 28, 28] of the data to check.
        labels: their class ids.
        golden: the trusted reference (its per-class mean images).
    """
    reference = np.stack(
        [
            golden.images[golden.labels == c].reshape(-1, SOURCE_SIZE * SOURCE_SIZE).mean(axis=0)
            for c in range(NUM_CLASSES)
        ]
    )
    nearest = {}
    for label in np.unique(labels):
        mean = images[labels == label].reshape(-1, images.shape[1] * images.shape[2]).mean(axis=0)
        if mean.shape != reference.shape[1:]:
            continue  # other image sizes cannot be compared (the anomaly gate names them)
        nearest[int(label)] = int(np.argmin(((reference - mean) ** 2).sum(axis=1)))
    return nearest


def describe_resemblance(nearest: dict[int, int]) -> str | None:
    """Returns one line naming the classes that look like another canonical class (None if none do)."""
    names = CLASS_NAMES
    unlike = [
        f"{k} {names[k] if k < len(names) else '?'} looks like {j} {names[j]}"
        for k, j in nearest.items()
        if k != j
    ]
    if not unlike:
        return None
    return (
        f"{len(unlike)} of {len(nearest)} classes look like another canonical class "
        f"({'; '.join(unlike[:4])}{'; …' if len(unlike) > 4 else ''}): the labels are shifted or the data is "
        "not Fashion-MNIST"
    )
