"""The release stage's own file IO on a bucket: baseline copy, staged push and publish, registry, config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from gcs_emulator import BUCKET

SERVING = f"gs://{BUCKET}/release-io/serving"
VERSION = "1700000000"
NEW_VERSION = "1700000001"
SOURCE = f"gs://{BUCKET}/release-io/Trainer/model/7/Format-Serving"

# Run in a fresh process: TensorFlow reads the emulator settings when it first touches gs://.
SCRIPT = textwrap.dedent(
    f"""
    import json
    from components.pusher import versions
    from components.serving_baseline.baseline import copy_served_model
    from serving.versions import served_versions
    from serving.push import write_models_config

    model_dir = "{SERVING}/fashion-tfx"
    empty = copy_served_model("{SERVING}/nothing-served", "gs://{BUCKET}/release-io/empty-baseline")
    versions_before = served_versions(model_dir)
    copied = copy_served_model(model_dir, "gs://{BUCKET}/release-io/baseline/Format-Serving")
    # The Pusher's path: digest, copy into hidden staging, record; the smoke check then publishes.
    digest = versions.model_digest("{SERVING}/fashion-tfx/{VERSION}")
    staged = versions.stage_model("{SERVING}/fashion-tfx/{VERSION}", model_dir, "{NEW_VERSION}")
    versions.record_push(model_dir, "{NEW_VERSION}", digest, "{SOURCE}")
    hidden = served_versions(model_dir)
    versions.publish(staged, model_dir + "/{NEW_VERSION}")
    config = write_models_config("{SERVING}", "fashion-tfx")
    print(json.dumps({{"empty": empty, "versions": versions_before, "copied": copied, "digest": digest,
                      "hidden": hidden, "registry": versions.read_registry(model_dir),
                      "after": served_versions(model_dir), "config": str(config)}}))
    """
)


def _client(emulator):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="fashion-tfx-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": emulator.endpoint},
    )


def test_baseline_copy_registry_and_models_config_live_in_the_bucket(gcs_emulator, tmp_path):
    import tensorflow as tf

    # A small SavedModel, uploaded as TF Serving's layout <serving>/<model>/<version>/.
    module = tf.Module()
    module.scale = tf.Variable(3.0)
    module.call = tf.function(lambda x: x * module.scale, input_signature=[tf.TensorSpec([], tf.float32)])
    local = tmp_path / "model"
    tf.saved_model.save(module, str(local))
    bucket = _client(gcs_emulator).bucket(BUCKET)
    uploaded = {}
    for path in local.rglob("*"):
        if path.is_file():
            name = f"release-io/serving/fashion-tfx/{VERSION}/{path.relative_to(local)}"
            bucket.blob(name).upload_from_filename(str(path))
            uploaded[str(path.relative_to(local))] = path.read_bytes()
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, **gcs_emulator.environment, "HOME": str(tmp_path / "home")}
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert (
        result["empty"] is None and result["versions"] == [int(VERSION)] and result["copied"] == int(VERSION)
    )
    # Staged, the new version is invisible; published, it is the newest; the registry names its content.
    assert result["hidden"] == [int(VERSION)] and result["after"] == [int(VERSION), int(NEW_VERSION)]
    assert result["registry"] == {NEW_VERSION: {"digest": result["digest"], "source": SOURCE}}
    assert result["config"] == f"{SERVING}/models.config"

    objects = {blob.name: blob for blob in _client(gcs_emulator).list_blobs(BUCKET, prefix="release-io/")}
    for relative, content in uploaded.items():
        assert objects[f"release-io/baseline/Format-Serving/{relative}"].download_as_bytes() == content
        published = objects[f"release-io/serving/fashion-tfx/{NEW_VERSION}/{relative}"]
        assert published.download_as_bytes() == content
    assert not [n for n in objects if "/.staging-" in n]
    assert not [n for n in objects if n.startswith("release-io/empty-baseline/") and not n.endswith("/")]
    config = objects["release-io/serving/models.config"].download_as_bytes().decode()
    # TF Serving reads the bucket itself: the config points at the bucket, not at a container mount.
    assert 'name: "fashion-tfx"' in config and f'base_path: "{SERVING}/fashion-tfx"' in config
    registry = json.loads(objects["release-io/serving/fashion-tfx/.pushed_models.json"].download_as_bytes())
    assert registry == result["registry"]
    # Temporary files were renamed away; nothing was written to the local disk.
    assert not [n for n in objects if ".pushed_models.json." in n or ".models.config." in n]
    assert list(work.iterdir()) == []
