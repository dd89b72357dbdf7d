"""Bad input at every boundary (configuration, CLI, data files, serving payloads): a clear, named error."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline import cli
from pipeline.config import ConfigError, make_config
from serving import payloads


def _load_example_gen_cases() -> dict:
    """The IDX bad-input table of tests/components/test_example_gen.py (one definition of the cases)."""
    path = Path(__file__).parents[1] / "components" / "test_example_gen.py"
    spec = importlib.util.spec_from_file_location("example_gen_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BAD_INPUTS


CONFIG_CASES = {
    "unknown profile": (("huge", {}), "unknown profile 'huge'; choose one of test, quick, full"),
    "unknown field": (("test", {"colour": 1}), "unknown configuration field.*colour"),
    "zero cap": (("test", {"train_cap": 0}), "train_cap must be a positive integer or None, got 0"),
    "negative cap": (("test", {"test_cap": -5}), "test_cap must be a positive integer or None, got -5"),
    "eval fraction 0": (("test", {"eval_fraction": 0.0}), "eval_fraction must lie strictly between 0 and 1"),
    "eval fraction 1": (("test", {"eval_fraction": 1.0}), "eval_fraction must lie strictly between 0 and 1"),
    "image size below 28": (("test", {"image_size": 27}), "image_size must be an integer from 28 .* got 27"),
    "image size above max": (("test", {"image_size": 1025}), "image_size must be .* to 1024, got 1025"),
    "unknown interpolation": (("test", {"interpolation": "bogus"}), "interpolation must be one of .*'bogus'"),
    "negative seed": (("test", {"seed": -1}), "seed must be an integer from 0 to 4294967295, got -1"),
    "relative serving base path": (
        ("test", {"serving_base_path": "models"}),
        "serving_base_path must be an absolute path or a bucket URI .*got 'models'",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_configuration_names_the_field(case, tmp_path):
    (profile, overrides), message = CONFIG_CASES[case]
    with pytest.raises(ConfigError, match=message):
        make_config(profile, tmp_path / "root", **overrides)


def _cli(argv, capsys) -> tuple[int, str]:
    """Runs `fashion-tfx ARGV` in-process; returns (exit code, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse exits by itself
        code = exit_.code
    return code, capsys.readouterr().err


CLI_CASES = {
    "unknown command": (["serve"], "argument command: invalid choice: 'serve'"),
    "unknown profile": (["run", "--profile", "huge"], "argument --profile: invalid choice: 'huge'"),
    "image size not a number": (
        ["run", "--image-size", "big"],
        "argument --image-size: not a whole number in ASCII digits: 'big'",
    ),
    "image size too small": (["run", "--image-size", "8"], "image_size must be an integer from 28"),
    "image size too large": (["run", "--image-size", "4096"], "to 1024, got 4096"),
    "seed not a number": (
        ["run", "--seed", "1.5"],
        "argument --seed: not a whole number in ASCII digits: '1.5'",
    ),
    "negative seed": (["run", "--seed", "-7"], "seed must be an integer from 0 to 4294967295, got -7"),
    "unknown option": (["run", "--epochs", "3"], "unrecognized arguments: --epochs 3"),
    "missing data dir": (
        ["run", "--data-dir", "{tmp}/nowhere"],
        "data directory .*nowhere .* does not exist",
    ),
    "root is a file": (["run", "--root", "{tmp}/file/root"], "output root .*file/root is not writable"),
    # Path("") is the current folder: from the repo, the run would write into the source tree.
    "empty root": (["run", "--root", ""], r"root must name a folder .*got ''"),
    "whitespace root": (["run", "--root", " \t "], r"root must name a folder .*got ' \\t '"),
    "root with a newline": (["run", "--root", "runs/x\n"], r"root must name a folder .*got 'runs/x\\n'"),
    "predict max batch": (["predict", "--max-batch", "0", "x.png"], "--max-batch must be at least 1, got 0"),
    "relative serving base path": (
        ["run", "--serving-base-path", "models"],
        "serving_base_path must be an absolute path or a bucket URI",
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_bad_cli_arguments_exit_2_with_one_clear_line(case, tmp_path, capsys):
    (tmp_path / "file").write_text("a file where a folder is expected")
    argv, message = CLI_CASES[case]
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    if argv[0] == "run":
        argv += ["--root", str(tmp_path / "root")] if "--root" not in argv else []
    code, err = _cli(argv, capsys)
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: "), err
    assert re.search(message, lines[0]), lines[0]


# The CLI finds a missing file before parsing, and says so in its own words.
CLI_DATA_MESSAGES = {"missing file": "is missing: .*train-labels-idx1-ubyte.gz"}


@pytest.mark.parametrize("case", sorted(_load_example_gen_cases()))
def test_bad_data_files_are_refused_by_the_cli_before_the_pipeline(case, tiny_idx_dir, tmp_path, capsys):
    damage, message = _load_example_gen_cases()[case]
    message = CLI_DATA_MESSAGES.get(case, message)
    damage(tiny_idx_dir)
    root = tmp_path / "root"
    code, err = _cli(
        ["run", "--profile", "test", "--data-dir", str(tiny_idx_dir), "--root", str(root)], capsys
    )
    assert code == 2
    assert "Traceback" not in err
    assert re.search(f"^fashion-tfx: error: .*{message}", err, re.MULTILINE), err
    assert not (root / "metadata.sqlite").exists()  # refused before any pipeline work


PAYLOAD_CASES = {
    "empty batch": (np.zeros((0, 28, 28)), "empty batch"),
    "wrong shape": (np.zeros((2, 32, 32)), r"wrong shape \[2, 32, 32\]"),
    "one image without batch": (np.zeros((28, 28)), r"wrong shape \[28, 28\]"),
    "oversized batch": (np.zeros((100_000, 28, 28), np.uint8), "oversized batch: 100000 images"),
    "strings": (np.full((1, 28, 28), "x"), "wrong dtype"),
    "grey level above 255": (
        np.full((1, 28, 28), 300.0),
        "item 0: grey levels must be finite values in 0-255",
    ),
    "not a number": (np.full((1, 28, 28), np.nan), "item 0: grey levels must be finite"),
}


@pytest.mark.parametrize("case", sorted(PAYLOAD_CASES))
def test_bad_serving_payloads_name_the_problem(case):
    images, message = PAYLOAD_CASES[case]
    with pytest.raises(payloads.PayloadError, match=message):
        payloads.validate_batch(images)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file, not a PNG image"),
        (b"GIF89a" + bytes(40), "not a PNG image"),
        (payloads.PNG_SIGNATURE + bytes(40), "not a PNG image"),
    ],
)
def test_bad_png_files_through_the_predict_cli_name_the_file(content, message, tmp_path, capsys):
    png = tmp_path / "bad.png"
    png.write_bytes(content)
    code, err = _cli(["predict", "--serving-root", str(tmp_path / "serving"), str(png)], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith(f"fashion-tfx: error: {png}: {message}"), err
