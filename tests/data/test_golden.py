"""The golden set: canonical test images, trusted only when their content matches the published SHA-256."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from data import fashion_mnist as fm
from data import golden
from data.idx import read_bytes


def _tampered_copy(directory, source):
    """A copy of the canonical test files with one pixel of the image file changed."""
    directory.mkdir()
    content = bytearray(read_bytes(fm.file_path(source, fm.TEST_IMAGES)))
    content[16 + 400] ^= 0xFF
    (directory / fm.TEST_IMAGES).write_bytes(bytes(content))
    shutil.copy(fm.file_path(source, fm.TEST_LABELS), directory)
    return directory


@pytest.fixture
def canonical_dir(canonical_data_dir):
    return canonical_data_dir


def test_golden_set_is_class_balanced_and_names_its_source(canonical_dir):
    found = golden.load_golden_set([canonical_dir])
    assert found.directory == canonical_dir
    assert found.images.shape == (1000, 28, 28) and found.images.dtype == np.uint8
    assert np.bincount(found.labels, minlength=10).tolist() == [golden.GOLDEN_PER_CLASS] * 10
    assert len(set(found.ids)) == 1000 and found.ids[0].startswith(f"{fm.TEST_IMAGES}:")


def test_a_tampered_copy_is_passed_over(canonical_dir, tmp_path):
    tampered = _tampered_copy(tmp_path / "tampered", canonical_dir)
    # Tried first, refused by its digest; the installed copy is used instead.
    assert golden.load_golden_set([tampered]).directory == canonical_dir
    with pytest.raises(golden.GoldenSetError, match=r"no trusted golden set: .*tampered, .*absent"):
        golden.load_golden_set([tampered], installed=[tmp_path / "absent"])


def test_a_gzip_copy_elsewhere_is_trusted_by_its_content(canonical_dir, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (fm.TEST_IMAGES, fm.TEST_LABELS):
        (copy / f"{name}.gz").write_bytes(gzip.compress(read_bytes(fm.file_path(canonical_dir, name)), 1))
    assert golden.load_golden_set([copy], installed=[]).directory == copy


def test_class_resemblance_names_a_label_shift_and_passes_the_canonical_set(canonical_dir):
    from support import make_images

    from data.idx import read_idx_pair

    reference = golden.load_golden_set([canonical_dir])
    images, labels = read_idx_pair(
        fm.file_path(canonical_dir, fm.TRAIN_IMAGES), fm.file_path(canonical_dir, fm.TRAIN_LABELS)
    )
    images, labels = images[:2000], labels[:2000]
    assert golden.class_resemblance(images, labels, reference) == {c: c for c in range(10)}
    assert golden.describe_resemblance(golden.class_resemblance(images, labels, reference)) is None
    shifted = golden.class_resemblance(images, (labels + 1) % 10, reference)
    assert shifted == {c: (c - 1) % 10 for c in range(10)}
    assert golden.describe_resemblance(shifted).startswith(
        "10 of 10 classes look like another canonical class (0 T-shirt/top looks like 9 Ankle boot; "
        "1 Trouser looks like 0 T-shirt/top;"
    )
    stripes, stripe_labels = make_images(120, seed=0)
    assert "look like another canonical class" in golden.describe_resemblance(
        golden.class_resemblance(stripes, stripe_labels, reference)
    )
