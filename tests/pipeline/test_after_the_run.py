"""After `fashion-tfx run`: the summary, the card shipped with the model, the lineage and TensorBoard."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from google.protobuf import text_format
from model_cards import ABSOLUTE_PATH, validate_against_toolkit_schema
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.plugins.projector import projector_config_pb2

from data.classes import CLASS_NAMES
from models.settings import describe_arithmetic, training_policy
from models.tensorboard_views import PROJECTOR_CONFIG
from models.trainer import ONEDNN_WORDS
from pipeline.config import make_config
from pipeline.summary import mount_source, relative_to_cwd
from serving.signatures import ASSETS_EXTRA
from serving.versions import served_versions

# The first words of every line `pipeline.lineage` prints: its answer, nothing a library says.
LINEAGE_LINES = (
    r"served version \d+: ",
    "  trained in run ",
    "  data: ",
    "  code fingerprint: ",
    "  steps: ",
)


def _served_version(run) -> int:
    (version,) = served_versions(run.root / "serving" / "fashion-tfx")
    return version


def test_the_summary_names_the_version_once_the_golden_set_and_the_next_commands(full_test_run):
    run = full_test_run
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.stdout
    version = _served_version(run)
    assert summary.count(str(version)) == 1, summary  # one name for the model: its served version
    assert f"  pushed: served version {version}, in " in summary
    # The golden set once: the second gate of the verdict printed under the test accuracy.
    assert len(re.findall("golden set", summary, flags=re.I)) == 1, summary
    assert re.search(
        r"only the floor applied\. Golden set: accuracy \d\.\d{4} on 1,000 canonical test images "
        r"\(SHA-256 verified\), floor 0\.3: passed; it catches gross poisoning",
        summary,
        flags=re.M,
    ), summary
    steps = summary.split("  next steps:\n", 1)[1].splitlines()
    # The commands of the run's environment, as the summary prints paths (shortened under the current folder).
    root, tools = str(run.root), relative_to_cwd(str(Path(sys.executable).parent))
    predict = f"{tools}/fashion-tfx predict --serving-root {root}/serving --index 0 --index 17 --split test"
    assert steps[0] == f"    {predict}"
    assert steps[1].startswith("    docker run --rm -p 8500:8500 -p 8501:8501 --mount type=bind,")
    assert f'source="{root}/serving",target=/models,readonly' in steps[1]
    assert steps[1].endswith("--model_config_file=/models/models.config")
    assert steps[2] == f"    {tools}/tensorboard --logdir {root}/pipeline"
    assert steps[3] == f"    {tools}/python -m pipeline.lineage --root {root}"


def test_the_run_names_its_training_arithmetic_before_it_starts_and_as_it_trains(full_test_run):
    run = full_test_run
    assert run.returncode == 0, run.stderr[-3000:]
    precision = make_config("test", run.root).model.precision
    arithmetic, _ = describe_arithmetic(precision)
    # Once in the run's opening lines (before any work), once in the Trainer's.
    opening = run.stderr.split("fashion-tfx: data: ", 1)[1].splitlines()[1]
    assert opening.endswith(arithmetic), opening
    assert (run.stdout + run.stderr).count(arithmetic) == 2, run.stderr[-3000:]
    # The kernels the Trainer trained with: the pipeline switched oneDNN on before TensorFlow started.
    assert f"  {ONEDNN_WORDS} on" in run.stdout + run.stderr, run.stderr[-3000:]
    # And the card's recipe, from the Trainer's record.
    shipped = run.root / "serving" / "fashion-tfx" / str(_served_version(run)) / ASSETS_EXTRA
    record = json.loads((shipped / "model_record.json").read_text())
    assert f"; trained in {training_policy(precision)} arithmetic" in record["recipe"], record["recipe"]


def test_what_ships_with_the_model_names_no_build_path_and_its_card_is_schema_valid(full_test_run):
    run = full_test_run
    assert run.returncode == 0, run.stderr[-3000:]
    version = _served_version(run)
    shipped = run.root / "serving" / "fashion-tfx" / str(version) / ASSETS_EXTRA
    texts = {p.name: p.read_text() for p in shipped.iterdir() if p.suffix in (".md", ".json")}
    assert set(texts) == {"model_card.md", "model_card.json", "model_record.json"}
    for name, text in texts.items():
        assert str(run.root) not in text and not ABSOLUTE_PATH.search(text), name
    card = json.loads(texts["model_card.json"])
    validate_against_toolkit_schema(card)
    assert card["model_details"]["version"]["name"] == f"served version {version}"
    assert card["model_details"]["path"] == f"fashion-tfx/{version}"
    record = json.loads(texts["model_record.json"])
    assert record["served_version"] == version and record["evaluation"]["golden_set"]["passed"] is True
    assert texts["model_card.md"].startswith(f"# Model card: fashion-tfx, served version {version}\n")
    assert "- golden set: accuracy " in texts["model_card.md"]


def test_lineage_prints_its_answer_only(full_test_run):
    run = full_test_run
    assert run.returncode == 0, run.stderr[-3000:]
    earlier_logs = set((run.root / "logs").glob("lineage-*.log"))  # other tests read the same run's lineage
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.lineage", "--root", str(run.root)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert len(lines) == len(LINEAGE_LINES) <= 10, out.stdout
    for pattern, line in zip(LINEAGE_LINES, lines, strict=True):
        assert re.match(pattern, line), line
    assert lines[0].startswith(f"served version {_served_version(run)}: ")
    # What the libraries said went to the log file under the root.
    (log,) = set((run.root / "logs").glob("lineage-*.log")) - earlier_logs
    assert log.read_text().strip()


def test_tensorboard_finds_the_trials_hparams_and_the_projected_embedding(full_test_run):
    run = full_test_run
    assert run.returncode == 0, run.stderr[-3000:]
    board = EventMultiplexer()
    board.AddRunsFromDirectory(str(run.root / "pipeline"))  # as `tensorboard --logdir <root>/pipeline`
    board.Reload()
    content = board.PluginRunToTagToContent(hparams_metadata.PLUGIN_NAME)
    sessions = {
        name: plugin_data_pb2.HParamsPluginData.FromString(tags[hparams_metadata.SESSION_START_INFO_TAG])
        for name, tags in content.items()
        if hparams_metadata.SESSION_START_INFO_TAG in tags
    }
    trials = json.loads(
        next((run.root / "pipeline" / "Tuner" / "tuner_results").glob("*/trials.json")).read_text()
    )
    assert sorted(name.rsplit("/", 1)[-1] for name in sessions) == [f"trial-{t['trial']:02d}" for t in trials]
    assert all(re.fullmatch(r"Tuner/tuner_results/\d+/hparams/trial-\d\d", name) for name in sessions)
    for trial in trials:
        (hparams,) = [s for n, s in sessions.items() if n.endswith(f"trial-{trial['trial']:02d}")]
        assert hparams.session_start_info.hparams["learning_rate"].number_value == trial["learning_rate"]
    experiments = [tags for tags in content.values() if hparams_metadata.EXPERIMENT_TAG in tags]
    assert len(experiments) == 1

    (projector_run,) = [r for r in board.Runs() if r.endswith("/projector")]
    assert re.fullmatch(r"Trainer/model_run/\d+/projector", projector_run)
    folder = run.root / "pipeline" / projector_run
    config = text_format.Parse(
        (folder / PROJECTOR_CONFIG).read_text(), projector_config_pb2.ProjectorConfig()
    )
    (embedding,) = config.embeddings
    metadata = (folder / embedding.metadata_path).read_text().splitlines()
    vectors = (folder / embedding.tensor_path).read_text().splitlines()
    assert len(vectors) == len(metadata) - 1 == 60  # the test profile's validation images, each labelled
    assert {line.split("\t")[0] for line in metadata[1:]} == set(CLASS_NAMES)
    assert (folder / embedding.sprite.image_path).is_file() and list(embedding.sprite.single_image_dim) == [
        28,
        28,
    ]


def test_the_docker_mount_source_stays_absolute_when_the_summary_shortens_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert mount_source(str(tmp_path / "runs" / "local" / "serving")) == "$PWD/runs/local/serving"
    assert mount_source("runs/local/serving") == "$PWD/runs/local/serving"
    assert mount_source("/srv/models-root/serving") == "/srv/models-root/serving"


def test_a_run_leaves_nothing_in_the_temporary_folder(full_test_run):
    # TFX would build a 49 MB package of itself there for each Beam step (test_beam_dependency.py).
    assert full_test_run.returncode == 0, full_test_run.stderr
    assert sorted(path.name for path in full_test_run.tmp_dir.iterdir()) == []
