"""What a person sees during a run: the progress display only, and the libraries' output in the run's log."""

from __future__ import annotations

import re
from pathlib import Path

# Every component of the test profile's pipeline shows exactly one line when it finishes.
COMPONENTS = (
    "IdxExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "AnomalyGate",
    "ImageUpscaler",
    "Transform",
    "Tuner",
    "Trainer",
    "Evaluator",
    "Pusher",
)


def test_a_test_run_prints_a_short_plain_console_and_logs_the_libraries(full_test_run):
    run = full_test_run
    assert run.returncode == 0, run.stderr[-3000:]
    console = run.stdout + run.stderr
    lines = console.splitlines()
    # 65 measured on the test profile, the summary's next-step commands included.
    assert len(lines) <= 70, f"{len(lines)} lines on the console:\n{console}"
    assert "\x1b" not in console and "\r" not in console  # not a terminal: no escape codes, no redraws
    for node_id in COMPONENTS:
        assert sum(line.startswith(f"✓ {node_id} ") for line in lines) == 1, (node_id, console)
    # One line per tuning trial (n/N, hyper-parameters, score, best so far, time) and per epoch.
    trials = [line for line in lines if re.match(r"  trial \d+/\d+  ", line)]
    assert trials and all(re.search(r"val_accuracy \d\.\d{3}  best \d\.\d{3}  \d+s$", t) for t in trials)
    assert re.match(r"  trial 1/(\d+)", trials[0]) and len(trials) == int(trials[0].split()[1].split("/")[1])
    epochs = [line for line in lines if re.match(r"  epoch \d+/\d+  ", line)]
    assert epochs and all(" val_accuracy " in e and " lr " in e for e in epochs)
    assert [int(e.split()[1].split("/")[0]) for e in epochs] == list(range(1, len(epochs) + 1))

    # The summary names the log file, which holds what the libraries printed, in full.
    (named,) = re.findall(r"log \(everything the libraries printed\): (\S+)", run.stdout)
    log = Path(named)
    assert log.parent == run.root / "logs" and log.is_file()
    text = log.read_text()
    assert "Search: Running Trial #1" in text  # Keras Tuner's own display (print)
    assert re.search(r"Epoch 1/\d+", text)  # Keras' fit output
    assert re.search(r" I absl: .*IdxExampleGen", text)  # TFX's own logging, through absl
    assert "Your input ran out of data" not in text  # fixed at its cause: the datasets know their length
    # None of it reached the console.
    assert "Search: Running Trial" not in console and "Epoch 1/" not in console
    assert "Traceback" not in console


def test_the_tuner_line_compares_the_best_trial_with_the_defaults_trial():
    from pipeline.summary import tuner_line

    trials = [{"trial": 1, "score": 0.80}, {"trial": 2, "score": 0.84}, {"trial": 3, "score": None}]
    assert tuner_line(trials, "random") == (
        "  Tuner: best of 3 trials: trial 2 (0.840); the defaults' trial 1: 0.800"
    )
    assert (
        tuner_line(trials[:1], "random") == "  Tuner: best of 1 trials: trial 1 (0.800), the defaults' trial"
    )
    # Hyperband's first trial is a draw, not the defaults.
    assert "defaults" not in tuner_line(trials, "hyperband")
    assert tuner_line([{"trial": 1, "score": None}], "random") == "  Tuner: no trial finished"


def test_the_summary_leaves_out_a_damaged_missing_or_odd_record(tmp_path):
    from pipeline.summary import _read_json, tuner_line

    (tmp_path / "truncated.json").write_text('[{"trial": 1, "sco')
    (tmp_path / "object.json").write_text('{"trial": 1}')
    assert _read_json(str(tmp_path / "truncated.json"), list) is None
    assert _read_json(str(tmp_path / "absent.json"), list) is None
    assert _read_json(str(tmp_path / "object.json"), list) is None
    assert _read_json(str(tmp_path / "object.json"), dict) == {"trial": 1}
    # Rows that are not trials, or scores that are not numbers, are skipped.
    assert tuner_line(["x", {"trial": 1, "score": "high"}], "random") == "  Tuner: no trial finished"
