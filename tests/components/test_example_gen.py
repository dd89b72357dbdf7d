"""IdxExampleGen's executor, called directly on tiny IDX fixtures."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components.example_gen import executor, spec
from data import fashion_mnist as fm
from data.examples import ID_KEY, read_example
from data.idx import IdxFormatError, write_idx


def _run(data_dir, out_dir, caps=None, seed=42, allow_foreign=True, fingerprint=""):
    examples = standard_artifacts.Examples()
    examples.uri = str(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    executor.Executor().Do(
        {},
        {spec.EXAMPLES: [examples]},
        {
            spec.DATA_DIR: str(data_dir),
            spec.DATA_FINGERPRINT: fingerprint,
            spec.EVAL_FRACTION: 0.25,
            spec.SEED: seed,
            spec.SPLIT_CAPS: json.dumps(caps or {}),
            # The tiny synthetic fixtures are not the canonical set.
            spec.ALLOW_FOREIGN_DATA: int(allow_foreign),
        },
    )
    return examples


def read_split(uri, split):
    files = tf.io.gfile.glob(f"{uri}/Split-{split}/*.gz")
    return [read_example(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_writes_three_splits_with_image_label_and_id(tiny_idx_dir, tmp_path):
    examples = _run(tiny_idx_dir, tmp_path / "out")
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval", "test"]
    records = {s: read_split(examples.uri, s) for s in ("train", "eval", "test")}
    assert [len(records[s]) for s in ("train", "eval", "test")] == [90, 30, 40]
    image, label, example_id, proto = records["test"][0]
    source = fm.file_path(tiny_idx_dir, fm.TEST_IMAGES)
    index = int(example_id.split(":")[1])
    from data.idx import read_idx_images, read_idx_labels

    np.testing.assert_array_equal(image, read_idx_images(source)[index])
    assert label == read_idx_labels(fm.file_path(tiny_idx_dir, fm.TEST_LABELS))[index]
    assert example_id.startswith("t10k-images-idx3-ubyte:")
    assert proto.features.feature["height"].int64_list.value == [28]
    counts = json.loads(examples.get_string_custom_property(spec.CLASS_COUNTS_PROPERTY))
    assert sum(counts["train"].values()) == 90


def test_split_membership_is_identical_across_runs(tiny_idx_dir, tmp_path):
    first = _run(tiny_idx_dir, tmp_path / "a")
    second = _run(tiny_idx_dir, tmp_path / "b")
    for split in ("train", "eval", "test"):
        ids_a = [r[3].features.feature[ID_KEY].bytes_list.value[0] for r in read_split(first.uri, split)]
        ids_b = [r[3].features.feature[ID_KEY].bytes_list.value[0] for r in read_split(second.uri, split)]
        assert ids_a == ids_b and ids_a


def _gz(path, content: bytes):
    path.write_bytes(gzip.compress(content))


BAD_INPUTS = {
    "missing file": (
        lambda d: (d / f"{fm.TRAIN_LABELS}.gz").unlink(),
        "train-labels-idx1-ubyte.gz: file not found",
    ),
    "not gzip": (lambda d: (d / f"{fm.TEST_IMAGES}.gz").write_bytes(b"plain"), "not a gzip file"),
    "truncated gzip": (
        lambda d: (d / f"{fm.TRAIN_IMAGES}.gz").write_bytes((d / f"{fm.TRAIN_IMAGES}.gz").read_bytes()[:500]),
        "train-images-idx3-ubyte.gz: truncated or corrupt gzip",
    ),
    "wrong magic": (
        lambda d: _gz(d / f"{fm.TEST_LABELS}.gz", struct.pack(">II", 2051, 1) + b"\0"),
        "t10k-labels-idx1-ubyte.gz: wrong magic number 2051",
    ),
    "dimensions disagree": (
        lambda d: _gz(d / f"{fm.TEST_IMAGES}.gz", struct.pack(">IIII", 2051, 40, 28, 28) + bytes(100)),
        "t10k-images-idx3-ubyte.gz: header declares dimensions 40x28x28",
    ),
    "count mismatch": (
        lambda d: write_idx(d / f"{fm.TEST_LABELS}.gz", np.zeros(39, dtype=np.uint8)),
        "holds 40 images but .*t10k-labels-idx1-ubyte.gz holds 39 labels",
    ),
    "label out of range": (
        lambda d: write_idx(d / f"{fm.TRAIN_LABELS}.gz", np.full(120, 12, dtype=np.uint8)),
        "train-labels-idx1-ubyte.gz: label 12 at index 0 is outside 0-9",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_the_file_and_writes_nothing(case, tiny_idx_dir, tmp_path):
    damage, message = BAD_INPUTS[case]
    damage(tiny_idx_dir)
    out = tmp_path / "out"
    with pytest.raises(IdxFormatError, match=message):
        _run(tiny_idx_dir, out)
    assert sorted(p.name for p in out.iterdir()) == []


def test_foreign_data_is_refused_unless_allowed_and_recorded_when_it_is(tiny_idx_dir, tmp_path):
    out = tmp_path / "refused"
    with pytest.raises(fm.ForeignDataError, match="is not the canonical Fashion-MNIST"):
        _run(tiny_idx_dir, out, allow_foreign=False)
    assert sorted(p.name for p in out.iterdir()) == []
    examples = _run(tiny_idx_dir, tmp_path / "allowed")
    assert examples.get_string_custom_property(spec.PROVENANCE_PROPERTY) == "foreign"
    assert examples.get_string_custom_property(spec.DESCRIPTION_PROPERTY).startswith("FOREIGN data from ")
    assert examples.get_string_custom_property(spec.DATA_DIR_PROPERTY) == str(tiny_idx_dir)


def test_canonical_data_is_recorded_as_such(canonical_data_dir, tmp_path):
    examples = _run(
        canonical_data_dir, tmp_path / "out", caps={"train": 10, "eval": 10, "test": 10}, allow_foreign=False
    )
    assert examples.get_string_custom_property(spec.PROVENANCE_PROPERTY) == "canonical"
    description = examples.get_string_custom_property(spec.DESCRIPTION_PROPERTY)
    assert description.startswith("canonical Fashion-MNIST (all four files match the published SHA-256)")


def _relabelled(directory) -> None:
    """Replaces the training labels file: every label moves to the next class."""
    labels = fm.read_contents(directory)[fm.TRAIN_LABELS]
    write_idx(fm.file_path(directory, fm.TRAIN_LABELS), (np.frombuffer(labels, np.uint8, offset=8) + 1) % 10)


def test_the_bytes_ingested_are_the_bytes_checked(tiny_idx_dir, tmp_path):
    from data.ingest import ingest_idx

    contents = fm.read_contents(tiny_idx_dir)  # what the check hashed
    _relabelled(tiny_idx_dir)  # the file is swapped after the check
    ingest_idx(tiny_idx_dir, tmp_path / "out", eval_fraction=0.25, seed=42, contents=contents)
    checked = np.frombuffer(contents[fm.TRAIN_LABELS], np.uint8, offset=8)
    for _, label, example_id, _ in read_split(str(tmp_path / "out"), "train"):
        assert label == checked[int(example_id.split(":")[1])]


def test_data_changed_since_the_runs_check_is_refused_and_nothing_is_ingested(tiny_idx_dir, tmp_path):
    checked = fm.verify(tiny_idx_dir, require_canonical=False)[1]  # the fingerprint the CLI checked
    _relabelled(tiny_idx_dir)
    with pytest.raises(fm.DatasetError, match=f"changed after the run checked it .*checked {checked}"):
        _run(tiny_idx_dir, tmp_path / "out", fingerprint=checked)
    assert list((tmp_path / "out").iterdir()) == []


def test_an_empty_split_is_refused_at_ingestion(tiny_idx_dir, tmp_path):
    # A test file of no image: the test split would be empty, and a model could not be evaluated.
    write_idx(fm.file_path(tiny_idx_dir, fm.TEST_IMAGES), np.zeros((0, 28, 28), np.uint8))
    write_idx(fm.file_path(tiny_idx_dir, fm.TEST_LABELS), np.zeros((0,), np.uint8))
    with pytest.raises(IdxFormatError, match="hold no image: the test split would be empty"):
        _run(tiny_idx_dir, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
