"""TensorBoard's HParams and projector data, read back as TensorBoard's plugins read them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.plugins.projector import projector_config_pb2

from data.classes import CLASS_NAMES
from models.tensorboard_views import (
    PROJECTOR_CONFIG,
    sprite,
    trial_run_name,
    write_hparams_logs,
    write_projector,
)

ROWS = [
    {"trial": 1, "trial_id": "00", "status": "COMPLETED", "score": 0.15, "best_step": 1, "family": "cnn",
     "learning_rate": 0.001, "blocks": 2, "tuner/epochs": 2},
    {"trial": 2, "trial_id": "01", "status": "COMPLETED", "score": 0.2, "best_step": 1, "family": "cnn",
     "learning_rate": 0.003, "blocks": 4, "tuner/epochs": 2},
]  # fmt: skip


def hparams_plugin_data(run_dir: Path) -> list[plugin_data_pb2.HParamsPluginData]:
    """Returns the HParams plugin's records in a run folder's event files (not its sub-folders')."""
    found = []
    for events in sorted(run_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == hparams_metadata.PLUGIN_NAME:
                    found.append(
                        plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    )
    return found


def read_projector_config(folder: Path) -> projector_config_pb2.ProjectorConfig:
    return text_format.Parse((folder / PROJECTOR_CONFIG).read_text(), projector_config_pb2.ProjectorConfig())


def test_each_trial_is_an_hparams_session_of_one_experiment(tmp_path):
    root = Path(write_hparams_logs(ROWS, {"learning_rate": (1e-4, 1e-2), "blocks": [2, 3, 4]}, str(tmp_path),
                                   "val_accuracy"))  # fmt: skip
    (experiment,) = hparams_plugin_data(root)
    infos = {h.name: h for h in experiment.experiment.hparam_infos}
    assert set(infos) == {"family", "learning_rate", "blocks"}  # the Tuner's bookkeeping is left out
    assert infos["learning_rate"].domain_interval.max_value == 1e-2
    assert [v.number_value for v in infos["blocks"].domain_discrete.values] == [2, 3, 4]
    assert [m.name.tag for m in experiment.experiment.metric_infos] == ["val_accuracy"]
    for row in ROWS:
        run = root / trial_run_name(row["trial"])
        (session,) = hparams_plugin_data(run)
        hparams = session.session_start_info.hparams
        assert hparams["learning_rate"].number_value == row["learning_rate"]
        assert hparams["family"].string_value == "cnn"
        assert session.session_start_info.group_name.startswith(trial_run_name(row["trial"]))
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["trial-01", "trial-02"]


def test_the_projector_has_vectors_class_labels_and_a_sprite(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(7) % len(CLASS_NAMES)
    thumbnails = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    folder = Path(write_projector(rng.normal(size=(7, 5)), labels, thumbnails, str(tmp_path)))
    (embedding,) = read_projector_config(folder).embeddings
    assert list(embedding.sprite.single_image_dim) == [28, 28]
    vectors = (folder / embedding.tensor_path).read_text().splitlines()
    assert len(vectors) == 7 and all(len(v.split("\t")) == 5 for v in vectors)
    metadata = (folder / embedding.metadata_path).read_text().splitlines()
    assert metadata[0] == "class\tclass_id" and metadata[1:] == [f"{CLASS_NAMES[i]}\t{i}" for i in labels]
    import cv2

    picture = cv2.imread(str(folder / embedding.sprite.image_path), cv2.IMREAD_UNCHANGED)
    assert picture.shape == (3 * 28, 3 * 28)  # 7 images on a 3×3 grid
    assert np.array_equal(picture[28:56, 0:28], thumbnails[3])  # row by row, as the projector reads it
    assert list(folder.glob("events.out.tfevents.*"))  # a run of its own in TensorBoard


def test_sprite_pads_the_last_row_with_black():
    grid = sprite(np.full((2, 4, 4), 200, dtype=np.uint8))
    assert grid.shape == (8, 8) and grid[:4].min() == 200 and grid[4:].max() == 0
