"""The Pusher's executor, called directly on tiny fake SavedModel folders: identity by content, staging."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from model_cards import sample_model_card
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.evaluation_report.model_card import write_model_card
from components.evaluation_report.spec import MODEL_CARD_MARKDOWN, EvaluationReportArtifact
from components.pusher import versions
from components.pusher.executor import Executor
from components.pusher.properties import ALREADY_SERVING_PROPERTY, STAGED_DESTINATION_PROPERTY
from serving.push import write_models_config
from serving.versions import served_versions


def _model(uri, weights: bytes) -> standard_artifacts.Model:
    """A Model artifact whose Format-Serving folder holds a stand-in SavedModel (bytes, not loaded)."""
    serving = uri / "Format-Serving"
    (serving / "variables").mkdir(parents=True, exist_ok=True)
    (serving / "saved_model.pb").write_bytes(b"graph")
    (serving / "variables" / "variables.data-00000-of-00001").write_bytes(weights)
    model = standard_artifacts.Model()
    model.uri = str(uri)
    return model


def _push(model, base, tmp_path, name: str) -> dict:
    """Runs the executor once with a blessed model; returns the PushedModel's custom properties."""
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / f"blessing-{name}")
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed-{name}")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(base))
    )
    # The EvaluationReport of a blessed model holds its card, which the Pusher ships with the model.
    report = EvaluationReportArtifact()
    report.uri = str(tmp_path / f"report-{name}")
    os.makedirs(report.uri, exist_ok=True)
    write_model_card(*sample_model_card(Path(report.uri)), report.uri)
    Executor().Do(
        {"model": [model], "model_blessing": [blessing], "report": [report]},
        {"pushed_model": [pushed]},
        {"push_destination": proto_utils.proto_to_json(destination)},
    )
    return {
        "pushed": pushed.get_int_custom_property("pushed"),
        "destination": pushed.get_string_custom_property("pushed_destination"),
        "version": pushed.get_string_custom_property("pushed_version"),
        "staged": pushed.get_string_custom_property(STAGED_DESTINATION_PROPERTY),
        "already": pushed.get_int_custom_property(ALREADY_SERVING_PROPERTY),
    }


def test_a_new_version_is_hidden_until_published(tmp_path):
    base = tmp_path / "serving" / "fashion-tfx"
    first = _push(_model(tmp_path / "Trainer" / "model" / "10", b"weights A"), base, tmp_path, "a")
    assert first["pushed"] == 1 and first["staged"] == str(base / f".staging-{first['version']}")
    # TF Serving and `predict` take only numerically named folders: nothing is visible yet.
    assert served_versions(base) == [] and not (base / first["version"]).exists()
    assert sorted(os.listdir(first["staged"])) == ["assets.extra", "saved_model.pb", "variables"]
    versions.publish(first["staged"], first["destination"])
    assert served_versions(base) == [int(first["version"])]


@pytest.mark.parametrize(
    ("second_path", "second_weights", "same_version"),
    [
        # ML Metadata lost, execution ids repeat: same path, different model -> a new version.
        ("Trainer/model/10", b"weights B", False),
        # The same model from another execution (a rerun) -> the version that already holds it.
        ("Trainer/model/42", b"weights A", True),
    ],
)
def test_identity_is_the_models_content_not_its_path(tmp_path, second_path, second_weights, same_version):
    base = tmp_path / "serving" / "fashion-tfx"
    first = _push(_model(tmp_path / "run1" / "Trainer/model/10", b"weights A"), base, tmp_path, "a")
    versions.publish(first["staged"], first["destination"])
    second = _push(_model(tmp_path / "run2" / second_path, second_weights), base, tmp_path, "b")
    assert second["pushed"] == 1
    assert (second["version"] == first["version"]) is same_version
    assert second["already"] == (1 if same_version else 0)
    if not same_version:
        assert int(second["version"]) > int(first["version"])  # TF Serving serves the highest
        assert os.path.isdir(second["staged"])
        versions.publish(second["staged"], second["destination"])
        assert served_versions(base) == [int(first["version"]), int(second["version"])]


def test_an_old_registry_entry_never_matches_by_path(tmp_path):
    base = tmp_path / "serving" / "fashion-tfx"
    model = _model(tmp_path / "Trainer" / "model" / "10", b"weights A")
    (base / "1700000000").mkdir(parents=True)
    (base / versions.REGISTRY).write_text(json.dumps({"1700000000": f"{model.uri}/Format-Serving"}))
    pushed = _push(model, base, tmp_path, "a")
    assert pushed["version"] != "1700000000" and pushed["already"] == 0


def test_registry_and_models_config_are_readable_by_others(tmp_path):
    base = tmp_path / "serving" / "fashion-tfx"
    previous = os.umask(0o077)  # as strict as a hardened account's
    try:
        pushed = _push(_model(tmp_path / "m", b"weights"), base, tmp_path, "a")
        versions.publish(pushed["staged"], pushed["destination"])
        config = write_models_config(tmp_path / "serving")
    finally:
        os.umask(previous)
    for path in (base / versions.REGISTRY, config, base / pushed["version"] / "saved_model.pb"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path
    assert stat.S_IMODE(os.stat(base / pushed["version"] / "variables").st_mode) == 0o755


# What may happen to a staged version between its push and its publication, and whether it is published.
TAMPERING = {
    "untouched": (lambda staged: None, None),
    "weights replaced": (
        lambda staged: (staged / "variables" / "variables.data-00000-of-00001").write_bytes(b"other weights"),
        "is not the model pushed as version",
    ),
    "graph replaced": (
        lambda staged: (staged / "saved_model.pb").write_bytes(b"other graph"),
        "is not the model",
    ),
    "file added": (lambda staged: (staged / "variables" / "extra").write_bytes(b"x"), "is not the model"),
    "card edited (not the model)": (
        lambda staged: (staged / "assets.extra" / MODEL_CARD_MARKDOWN).write_text("x"),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_publication_refuses_a_staged_version_that_is_not_the_model_pushed(tmp_path, case):
    tamper, refusal = TAMPERING[case]
    base = tmp_path / "serving" / "fashion-tfx"
    pushed = _push(_model(tmp_path / "m", b"weights A"), base, tmp_path, "a")
    staged = base / f".staging-{pushed['version']}"
    tamper(staged)
    if refusal is None:
        versions.publish(pushed["staged"], pushed["destination"])
        assert served_versions(base) == [int(pushed["version"])]
        return
    with pytest.raises(versions.PublicationError, match=refusal) as raised:
        versions.publish(pushed["staged"], pushed["destination"])
    assert str(staged) in str(raised.value) and "\n" not in str(raised.value)
    assert served_versions(base) == [] and not (base / pushed["version"]).exists()


def test_a_staged_version_without_a_recorded_digest_is_not_published(tmp_path):
    base = tmp_path / "serving" / "fashion-tfx"
    pushed = _push(_model(tmp_path / "m", b"weights A"), base, tmp_path, "a")
    (base / versions.REGISTRY).write_text(json.dumps({pushed["version"]: "some/source"}))  # old format
    with pytest.raises(versions.PublicationError, match="records no content digest for version"):
        versions.publish(pushed["staged"], pushed["destination"])
    assert served_versions(base) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"1": {"digest": "x"', "it is not valid JSON"),
        ("[1, 2]", "it is not a JSON object of version entries"),
        ('{"1": 5}', "it is not a JSON object of version entries"),
        (b"\xff\xfe\x00", "it is not valid JSON"),
    ],
)
def test_a_damaged_registry_is_named_and_nothing_is_pushed(tmp_path, content, reason):
    base = tmp_path / "serving" / "fashion-tfx"
    base.mkdir(parents=True)
    registry = base / versions.REGISTRY
    registry.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(versions.RegistryError, match=f"push registry {registry} is damaged: {reason}"):
        _push(_model(tmp_path / "m", b"weights A"), base, tmp_path, "a")
    assert sorted(os.listdir(base)) == [versions.REGISTRY]
