"""On a `test`-profile run over real Fashion-MNIST: warm-up records pushed, `similar` finds look-alikes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from data import fashion_mnist as fm
from data.examples import make_example
from data.idx import read_idx_images, read_idx_labels
from pipeline.cli import main
from serving.batch import Source, iter_items
from serving.catalogue import nearest
from serving.local import LocalModel, resolve_model_dir
from serving.signatures import ASSETS_EXTRA, WARMUP_FILE

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline

CATALOGUE = 2000  # the last images of the real training file
K = 5


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """A full `test`-profile run on the real data (found as `fashion-tfx data` finds it; no download)."""
    location = fm.locate(None, allow_download=False)
    assert location.canonical, f"{location.directory} is not the canonical Fashion-MNIST"
    root = tmp_path_factory.mktemp("real_run") / "root"
    assert main(["run", "--profile", "test", "--root", str(root), "--data-dir", str(location.directory)]) == 0
    return root


@pytest.fixture(scope="module")
def catalogue(real_run, tmp_path_factory) -> Path:
    """The last 2,000 real training images as a TFRecord of Examples, embedded by `fashion-tfx embed`."""
    directory = tmp_path_factory.mktemp("catalogue")
    location = fm.locate(None, allow_download=False)
    images = read_idx_images(fm.file_path(location.directory, fm.TRAIN_IMAGES))[-CATALOGUE:]
    labels = read_idx_labels(fm.file_path(location.directory, fm.TRAIN_LABELS))[-CATALOGUE:]
    records = directory / "catalogue.tfrecord"
    with tf.io.TFRecordWriter(str(records)) as writer:
        for n, (image, label) in enumerate(zip(images, labels, strict=True)):
            writer.write(
                make_example(image, int(label), f"train[{60000 - CATALOGUE + n}]").SerializeToString()
            )
    index = directory / "catalogue.parquet"
    serving_root = real_run / "serving"
    assert main(["embed", str(records), "--serving-root", str(serving_root), "--output", str(index)]) == 0
    return index


def _test_split(real_run: Path):
    files = sorted((real_run / "pipeline" / "IdxExampleGen" / "examples").glob("*/Split-test/*.gz"))
    assert files, "the run wrote no test split"
    items = [item for f in files for item in iter_items([Source(str(f), "tfrecord")])]
    assert items and all(item.error is None and item.label is not None for item in items)
    return items


def test_the_pushed_version_holds_warmup_records_for_every_signature(real_run):
    pushed = resolve_model_dir(serving_root=real_run / "serving")
    path = pushed / ASSETS_EXTRA / WARMUP_FILE
    logs = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(path))
    ]
    signatures = {log.predict_log.request.model_spec.signature_name for log in logs}
    assert signatures == {"serving_default", "predict_images", "embed"} and len(logs) <= 1000


def test_nearest_catalogue_items_mostly_share_the_query_class(real_run, catalogue):
    model_dir = resolve_model_dir(serving_root=real_run / "serving")
    model = LocalModel(model_dir)
    queries = _test_split(real_run)
    embeddings = model.call("embed", {"images": np.stack([q.image for q in queries]).astype(np.float32)})
    same_class, majority = [], []
    for query, embedding in zip(queries, embeddings["embedding"], strict=True):
        neighbours, _ = nearest(str(catalogue), embedding, K, str(model_dir))
        labels = [n.label for n in neighbours]
        assert len(labels) == K
        same_class.append(np.mean([label == query.label for label in labels]))
        majority.append(np.bincount(labels, minlength=10).argmax() == query.label)
    # Chance is about 0.1 (ten balanced classes). Measured on this run: 0.68 and 0.75.
    assert np.mean(same_class) > 0.5, f"neighbours sharing the query's class: {np.mean(same_class):.2f}"
    assert np.mean(majority) > 0.5, (
        f"queries whose neighbours' majority class is right: {np.mean(majority):.2f}"
    )


def test_similar_prints_k_neighbours_and_draws_the_grid(real_run, catalogue, tmp_path, capsys):
    query = _test_split(real_run)[0]
    png = tmp_path / "query.png"
    assert cv2.imwrite(str(png), query.image)
    grid = tmp_path / "grid.png"
    argv = ["similar", str(png), "--index", str(catalogue), "-k", str(K), "--grid", str(grid)]
    assert main([*argv, "--serving-root", str(real_run / "serving")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"# {png}") and len(lines) == 1 + K
    similarities = [float(line.split("\t")[1]) for line in lines[1:]]
    assert similarities == sorted(similarities, reverse=True) and all(-1 <= s <= 1 for s in similarities)
    picture = cv2.imread(str(grid))
    assert picture is not None and picture.shape[1] > 4 * picture.shape[0]  # one row of K + 1 panels
