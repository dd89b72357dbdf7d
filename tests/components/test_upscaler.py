"""Tests of ImageUpscaler: the executor on fixture Examples, bad input, the report, a pipeline run."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import artifact_utils, channel_utils, standard_artifacts

from components.upscaler import executor, spec
from components.upscaler.component import ImageUpscaler
from components.upscaler.fidelity import DEFAULT_METHOD_REASON, FIDELITY_JSON, FIDELITY_PNG
from data.examples import ID_KEY, IMAGE_KEY, LABEL_KEY, encode_png, make_example, read_example
from data.resize import INTERPOLATIONS, upscale_images
from pipeline.config import CHECKOUT_SETUP_FILE, IN_MEMORY_BEAM_ARGS, with_beam_dependency

SIZE = 40  # small, and not a multiple of 28
SPLIT_SIZES = {"train": 12, "eval": 4, "holdout": 5}  # a split name ExampleGen never writes
BEAM_ARGS = list(with_beam_dependency(IN_MEMORY_BEAM_ARGS, str(CHECKOUT_SETUP_FILE)))


def fixture_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns `count` 28x28 uint8 images (a lit rectangle plus noise) and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for n in range(count):
        top, left = rng.integers(2, 10, size=2)
        images[n, top : top + 14, left : left + 12] = rng.integers(80, 256)
        images[n] = np.clip(images[n] + rng.integers(0, 30, size=(28, 28)), 0, 255)
    return images, np.arange(count) % 10


def write_split(folder: Path, records: list[bytes]) -> None:
    folder.mkdir(parents=True)
    with tf.io.TFRecordWriter(str(folder / "data_tfrecord-00000-of-00001.gz"), "GZIP") as writer:
        for record in records:
            writer.write(record)


def input_artifact(root: Path, records_by_split: dict[str, list[bytes]]) -> standard_artifacts.Examples:
    """Writes gzip TFRecords in TFX's Split-<name> layout and returns the Examples artifact."""
    for split, records in records_by_split.items():
        write_split(root / f"Split-{split}", records)
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(list(records_by_split))
    return artifact


def good_records(seed: int = 0) -> tuple[dict[str, list[bytes]], dict[str, np.ndarray]]:
    """Returns serialized Examples per split, and the original images by id."""
    records, originals = {}, {}
    for offset, (split, count) in enumerate(SPLIT_SIZES.items()):
        images, labels = fixture_images(count, seed + offset)
        records[split] = []
        for n, (image, label) in enumerate(zip(images, labels, strict=True)):
            example_id = f"{split}:{n}"
            originals[example_id] = image
            records[split].append(make_example(image, int(label), example_id).SerializeToString())
    return records, originals


def run_executor(tmp_path: Path, records: dict[str, list[bytes]], size: int = SIZE, interpolation="linear"):
    """Runs the executor directly; returns the output Examples and report artifacts."""
    source = input_artifact(tmp_path / "input", records)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "upscaled")
    report = spec.ResizeReport()
    report.uri = str(tmp_path / "report")
    os.makedirs(examples.uri)
    os.makedirs(report.uri)
    context = BaseBeamExecutor.Context(beam_pipeline_args=BEAM_ARGS, tmp_dir=str(tmp_path / "tmp"))
    outputs = {spec.EXAMPLES: [examples], spec.REPORT: [report]}
    properties = {spec.IMAGE_SIZE: size, spec.INTERPOLATION: interpolation}
    executor.Executor(context).Do({spec.INPUT_EXAMPLES: [source]}, outputs, properties)
    return examples, report


def read_split(examples: standard_artifacts.Examples, split: str) -> list[bytes]:
    files = sorted(glob.glob(os.path.join(examples.uri, f"Split-{split}", "*")))
    assert files and all(f.endswith(".gz") for f in files), files
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    return [r for f in files for r in tf.compat.v1.io.tf_record_iterator(f, options)]


@pytest.fixture(scope="module")
def executor_runs(tmp_path_factory):
    """Runs the executor once per interpolation on demand; tests share the runs."""
    runs = {}

    def run(interpolation: str):
        if interpolation not in runs:
            records, originals = good_records()
            folder = tmp_path_factory.mktemp(interpolation)
            runs[interpolation] = (
                records,
                originals,
                *run_executor(folder, records, interpolation=interpolation),
            )
        return runs[interpolation]

    return run


@pytest.mark.parametrize("interpolation", list(INTERPOLATIONS))
def test_executor_upscales_every_split(executor_runs, interpolation):
    records, originals, examples, report = executor_runs(interpolation)

    assert artifact_utils.decode_split_names(examples.split_names) == list(SPLIT_SIZES)
    assert examples.get_int_custom_property(spec.IMAGE_SIZE_PROPERTY) == SIZE
    assert sorted(os.listdir(examples.uri)) == sorted(f"Split-{s}" for s in SPLIT_SIZES)  # no staging left
    for split, count in SPLIT_SIZES.items():
        upscaled = [read_example(r) for r in read_split(examples, split)]
        assert len(upscaled) == count
        source = {read_example(r)[2]: read_example(r)[1] for r in records[split]}
        for image, label, example_id, proto in upscaled:
            assert image.dtype == np.uint8 and image.shape == (SIZE, SIZE)
            assert label == source.pop(example_id)  # each id once, with its label
            features = proto.features.feature
            assert features["height"].int64_list.value == [SIZE]
            assert features["width"].int64_list.value == [SIZE]
            expected = upscale_images(originals[example_id][np.newaxis], SIZE, interpolation)[0]
            np.testing.assert_array_equal(image, expected)
        assert not source  # every input example came out
    assert sorted(os.listdir(report.uri)) == [FIDELITY_JSON, FIDELITY_PNG]


def test_report_is_a_readable_picture_and_machine_readable_figures(executor_runs):
    _, _, _, report = executor_runs("linear")

    grid = cv2.imread(os.path.join(report.uri, FIDELITY_PNG), cv2.IMREAD_COLOR)
    assert grid is not None, "fidelity.png is not a decodable image"
    height, width = grid.shape[:2]
    assert width >= 600 and height >= 10 * 150  # ten class rows a person can read
    assert grid.std() > 20  # not a blank canvas

    content = json.loads(Path(report.uri, FIDELITY_JSON).read_text())
    assert content["image_size"] == SIZE and content["interpolation"] == "linear"
    # The default method ranks low on the round trip: the report says why it is the default anyway.
    assert (
        content["default_method_reason"] == DEFAULT_METHOD_REASON and "OpenCV linear" in DEFAULT_METHOD_REASON
    )
    assert content["sample"]["images"] == sum(SPLIT_SIZES.values())
    assert set(content["sample"]["per_class"]) == {str(c) for c in range(10)}
    methods = content["methods"]
    assert {f"opencv_{name}" for name in INTERPOLATIONS} <= set(methods)
    assert "tf_image_resize_bilinear" in methods
    for figures in methods.values():
        assert 10 < figures["psnr_db"] < 100 and 0 <= figures["max_abs_error"] <= 255
    # 28->40 is not one of linear's exact sizes (see resize.py): one level apart, rarely.
    in_graph = content["component_vs_in_graph_resize"]
    assert in_graph["max_abs_difference"] <= 1 and in_graph["fraction_of_pixels_differing"] < 1e-3


def _bad(tmp_path: Path, bad_record: bytes, match: str, size: int = SIZE) -> None:
    """Runs the executor with one bad record among good ones; expects an error and no output."""
    records, _ = good_records()
    records["train"].insert(5, bad_record)
    with pytest.raises(Exception, match=match):
        run_executor(tmp_path, records, size=size)
    assert os.listdir(tmp_path / "upscaled") == []  # no split, no staging folder
    assert os.listdir(tmp_path / "report") == []


def _example_without_image() -> bytes:
    example = make_example(np.zeros((28, 28), np.uint8), 3, "bad:no-image")
    del example.features.feature[IMAGE_KEY]
    return example.SerializeToString()


def _example_with_png(image: np.ndarray, example_id: str) -> bytes:
    example = make_example(np.zeros((28, 28), np.uint8), 3, example_id)
    example.features.feature[IMAGE_KEY].bytes_list.value[:] = [encode_png(image)]
    return example.SerializeToString()


@pytest.mark.parametrize(
    "make_record, match",
    [
        (
            lambda: make_example(np.zeros((30, 30), np.uint8), 1, "bad:30x30").SerializeToString(),
            r"split 'train', data_tfrecord-00000-of-00001.gz, record 5: example bad:30x30: image is "
            r"30x30, expected 28x28",
        ),
        (
            lambda: _example_with_png(np.zeros((28, 28), np.uint16), "bad:uint16"),
            r"split 'train', .*record 5: example bad:uint16: image must be one-channel uint8",
        ),
        (lambda: b"\xff\xff\xff", r"split 'train', .*record 5: unparseable tf.Example"),
        (_example_without_image, r"split 'train', .*record 5: example bad:no-image: missing feature 'image'"),
    ],
    ids=["wrong-size", "wrong-dtype", "unparseable", "missing-image"],
)
def test_bad_input_fails_clearly_without_output(tmp_path, make_record, match):
    _bad(tmp_path, make_record(), match)


@pytest.mark.parametrize("size", [27, 1025])
def test_target_size_outside_28_to_1024_is_refused(tmp_path, size):
    message = f"from 28 \\(the source size\\) to 1024, got {size}"
    with pytest.raises(ValueError, match=message):
        ImageUpscaler(examples=_examples_channel(), image_size=size)
    _bad(tmp_path, b"", match=message, size=size)


def _examples_channel():
    return channel_utils.as_channel([standard_artifacts.Examples()])


def test_component_exposes_examples_and_report():
    component = ImageUpscaler(examples=_examples_channel(), image_size=64, interpolation="area")
    assert component.id == "ImageUpscaler"
    assert component.outputs["examples"].type == standard_artifacts.Examples
    assert component.outputs["report"].type == spec.ResizeReport
    assert component.exec_properties == {"image_size": 64, "interpolation": "area"}


@pytest.mark.pipeline
def test_pipeline_run_produces_the_report(tmp_path, tiny_idx_dir):
    from pipeline import nodes
    from pipeline.config import make_config
    from pipeline.local_runner import run_pipeline

    # The real factory's data stage, which ends with the upscaler: training is tested elsewhere.
    config = make_config(
        "test", tmp_path / "run", data_dir=str(tiny_idx_dir), image_size=32, allow_foreign_data=True
    )
    result = run_pipeline(config, stream=open(os.devnull, "w"), stop_after=nodes.UPSCALER)  # noqa: SIM115

    assert result.ok, result.error
    upscaler = result.component("ImageUpscaler")
    assert upscaler is not None and upscaler.state == "executed"
    ((report_uri, _),) = upscaler.outputs["report"]
    grid = cv2.imread(os.path.join(report_uri, FIDELITY_PNG), cv2.IMREAD_GRAYSCALE)
    assert grid is not None and grid.shape[0] > 1000
    content = json.loads(Path(report_uri, FIDELITY_JSON).read_text())
    assert content["image_size"] == 32 and content["sample"]["images"] > 0
    ((examples_uri, properties),) = upscaler.outputs["examples"]
    assert properties["image_size"] == 32
    assert sorted(os.listdir(examples_uri)) == ["Split-eval", "Split-test", "Split-train"]
    first = read_example(next(iter(read_split_uri(examples_uri, "train"))))
    assert first[0].shape == (32, 32) and ID_KEY in first[3].features.feature
    assert LABEL_KEY in first[3].features.feature


def read_split_uri(uri: str, split: str) -> list[bytes]:
    examples = standard_artifacts.Examples()
    examples.uri = uri
    return read_split(examples, split)
