"""Serving-root helpers: path traversal, TF Serving's models.config (writability: pipeline.storage)."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import push
from serving.push import ServingRootError


@pytest.mark.parametrize(
    "name", ["..", ".", "../evil", "a/b", "/etc", "", "a\\b", "-x", "name with space", "..."]
)
def test_safe_model_path_refuses_traversal_and_odd_names(tmp_path, name):
    with pytest.raises(ServingRootError, match="invalid model name"):
        push.safe_model_path(tmp_path, name)


def test_safe_model_path_accepts_plain_names(tmp_path):
    assert push.safe_model_path(tmp_path, "fashion-tfx") == tmp_path / "fashion-tfx"
    assert push.safe_model_path(tmp_path, "m_2.v1") == tmp_path / "m_2.v1"


def test_safe_model_path_refuses_a_symlink_leading_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "fashion-tfx").symlink_to(outside)
    with pytest.raises(ServingRootError, match="resolves outside the serving root"):
        push.safe_model_path(root, "fashion-tfx")


def _parse(path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def test_models_config_parses_as_model_server_config(tmp_path):
    path = push.write_models_config(tmp_path, "fashion-tfx")
    assert path == tmp_path / "models.config"
    config = _parse(path)
    assert len(config.model_config_list.config) == 1
    entry = config.model_config_list.config[0]
    assert entry.name == "fashion-tfx"
    assert entry.base_path == "/models/fashion-tfx"
    assert entry.model_platform == "tensorflow"
    assert "model_config_list {" in path.read_text()


def test_models_config_update_keeps_other_entries(tmp_path):
    (tmp_path / "models.config").write_text(
        'model_config_list { config { name: "other" base_path: "/data/other" model_platform: "tensorflow" } }'
    )
    push.write_models_config(tmp_path, "fashion-tfx", base_root="/srv/models/")
    push.write_models_config(tmp_path, "fashion-tfx", base_root="/srv/models/")  # idempotent
    entries = {e.name: e.base_path for e in _parse(tmp_path / "models.config").model_config_list.config}
    assert entries == {"other": "/data/other", "fashion-tfx": "/srv/models/fashion-tfx"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.config"]  # no temp files left


def test_models_config_base_path_is_where_tf_serving_sees_the_root():
    assert push.serving_root_as_seen("/home/me/runs/local/serving") == "/models"  # the documented mount
    assert push.serving_root_as_seen("gs://b/runs/serving/") == "gs://b/runs/serving"  # read directly
    assert push.serving_root_as_seen("/home/me/runs/local/serving", "/mnt/models/") == "/mnt/models"


def test_models_config_refuses_a_broken_file_and_a_bad_name(tmp_path):
    (tmp_path / "models.config").write_text("this is not a proto {")
    with pytest.raises(ServingRootError, match="is not a TF Serving model config"):
        push.write_models_config(tmp_path, "fashion-tfx")
    with pytest.raises(ServingRootError, match="invalid model name"):
        push.write_models_config(tmp_path / "new", "../x")


def test_the_run_passes_where_tf_serving_sees_the_folder_to_the_smoke_check(tmp_path):
    from pipeline.config import make_config
    from pipeline.pipeline import create_pipeline

    config = make_config("test", tmp_path / "root", data_dir=str(tmp_path), serving_base_path="/srv/models")
    (check,) = [c for c in create_pipeline(config).components if c.id == "ServingSmokeCheck"]
    assert check.exec_properties["serving_base_path"] == "/srv/models"
