"""The served model is the one blessed and checked: staged until its smoke check, identified by content.

Real CLI runs (test profile, canonical data) on the real LocalDagRunner, in subprocesses:
- a run that stops after the Pusher (as one killed before or during its smoke check would) leaves
  nothing a client or TF Serving can see; the rerun checks the model and publishes it;
- a staged version whose files were replaced before its smoke check is refused, never published;
- a root whose ML Metadata was lost but whose serving folder stayed: execution ids start again, so the
  new model lands at the old model's Trainer path, and it is still pushed as a new version;
- a serving folder deleted after the release: the fully cached rerun says the model is NOT served.
"""

from __future__ import annotations

import os
import shutil
import stat

import pytest
from reliability.runs import start_run

from components.pusher import versions
from pipeline import nodes
from pipeline.metadata import component_runs
from serving.versions import served_versions

# Runs the real pipeline: outside the fast tier (`make test-fast`).
pytestmark = pytest.mark.pipeline


def _finish(process) -> str:
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    return stdout


def _visible(model_base) -> list[str]:
    """What TF Serving would load: folders named by a plain number (and `predict`: those with a model)."""
    return sorted(p.name for p in model_base.iterdir() if p.is_dir() and p.name.isdigit())


def test_a_version_is_published_only_after_its_check_and_identity_survives_a_lost_store(
    canonical_data_dir, tmp_path
):
    root = tmp_path / "root"
    model_base = root / "serving" / "fashion-tfx"
    previous = os.umask(0o077)  # the runs inherit it: files must still be readable by TF Serving
    try:
        stopped = start_run(canonical_data_dir, root, stop_after=nodes.PUSHER)
        _finish(stopped)
        first = {r.node_id: r for r in component_runs(root / "metadata.sqlite")}
        props = first["Pusher"].outputs["pushed_model"][0][1]
        old_trainer_model = first["Trainer"].outputs["model"][0][0]
        assert props["pushed"] == 1
        version = props["pushed_version"]
        assert _visible(model_base) == [] and served_versions(model_base) == []
        staged = model_base / f"{versions.STAGING_PREFIX}{version}"
        assert (staged / "saved_model.pb").is_file()

        # The staged files are replaced (another model's weights) before the smoke check publishes them:
        # the model still loads, but it is not the one blessed, so it is never published.
        shutil.copytree(staged, tmp_path / "staged-backup")
        weights = next((staged / "variables").glob("variables.data-*"))
        weights.write_bytes(bytes(b ^ 0xFF for b in weights.read_bytes()))
        tampered = start_run(canonical_data_dir, root, stop_after=None)
        stdout, stderr = tampered.communicate(timeout=900)
        assert tampered.returncode == 1, stderr[-3000:]
        assert f"error in {nodes.SMOKE_CHECK}: refusing to publish {staged}: its content" in stdout, stdout
        assert "is not the model pushed as version" in stdout and "Traceback" not in stdout + stderr
        assert _visible(model_base) == [] and served_versions(model_base) == []
        shutil.rmtree(staged)
        shutil.copytree(tmp_path / "staged-backup", staged)  # the blessed model's files, as pushed

        out = _finish(start_run(canonical_data_dir, root, stop_after=None))
        assert "loaded in a fresh process (as TF Serving loads it: 6 warm-up requests replayed)" in out
        assert _visible(model_base) == [version] and served_versions(model_base) == [int(version)]
        for path in (root / "serving" / "models.config", model_base / versions.REGISTRY):
            assert stat.S_IMODE(path.stat().st_mode) == 0o644, path

        # ML Metadata is lost, the serving folder stays; a different seed trains a different model.
        old_model_dir = props["pushed_destination"]
        (root / "metadata.sqlite").unlink()
        shutil.rmtree(root / "pipeline")
        # The served version is this run's baseline (ServingBaseline): a drop is allowed, so the new
        # model is blessed whatever its accuracy, and identity alone decides whether it is pushed.
        out = _finish(
            start_run(canonical_data_dir, root, "--seed", "7", "--max-accuracy-drop", "1", stop_after=None)
        )
    finally:
        os.umask(previous)
    runs = {r.node_id: r for r in component_runs(root / "metadata.sqlite")}
    # The premise: execution ids started again, so the new model sits where the old one did.
    assert runs["Trainer"].outputs["model"][0][0] == old_trainer_model
    new = runs["Pusher"].outputs["pushed_model"][0][1]
    assert new["pushed"] == 1 and new.get("already_serving") != 1, new
    assert new["model_digest"] != props["model_digest"]
    assert int(new["pushed_version"]) > int(version)
    assert _visible(model_base) == [version, new["pushed_version"]], os.listdir(model_base)
    assert f"pushed: served version {new['pushed_version']}, in " in out and "already serving" not in out
    assert new["pushed_destination"] != old_model_dir

    # The serving folder is deleted; an unchanged rerun reuses every step, and must not call it served.
    shutil.rmtree(root / "serving")
    cached = start_run(canonical_data_dir, root, "--seed", "7", "--max-accuracy-drop", "1", stop_after=None)
    stdout, stderr = cached.communicate(timeout=900)
    assert cached.returncode == 1, stderr[-3000:]
    assert f"NOT served: {new['pushed_destination']} no longer exists" in stdout, stdout
    assert (
        "pushed: served version" not in stdout
        and "smoke check: loaded" not in stdout
        and "Traceback" not in stderr
    )
    assert f"is NOT served: {new['pushed_destination']} no longer exists" in stdout.splitlines()[-1]
    assert "rerun with --no-cache" in stdout.splitlines()[-1]
