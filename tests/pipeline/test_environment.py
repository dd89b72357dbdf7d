"""The environment the `pipeline` package sets before TensorFlow starts, and its warnings."""

from __future__ import annotations

import subprocess
import sys

from support import environment_with

from pipeline import ONEDNN, ONEDNN_ON


def _import_in_a_fresh_process(script: str, value: str | None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script],
        env=environment_with(ONEDNN, value),
        capture_output=True,
        text=True,
        check=True,
    )


def test_a_value_tensorflow_would_ignore_is_named_and_kept():
    script = f"import os, pipeline; print(os.environ[{ONEDNN!r}])"
    result = _import_in_a_fresh_process(script, "yes")

    assert result.stdout.strip() == "yes"
    assert f"{ONEDNN}='yes' is not one of" in result.stderr


def test_a_value_tensorflow_accepts_passes_quietly():
    result = _import_in_a_fresh_process("import pipeline", "TRUE")

    assert result.stderr == ""


def test_tensorflow_imported_first_is_warned_about_and_child_processes_still_get_the_switch():
    script = f"import tensorflow, os, pipeline; print(os.environ[{ONEDNN!r}])"
    result = _import_in_a_fresh_process(script, None)

    assert result.stdout.strip() == ONEDNN_ON
    assert "TensorFlow was imported before the pipeline package" in result.stderr
