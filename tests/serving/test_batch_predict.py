"""`predict` and `embed` streaming over folders and TFRecord files, and their one-line refusals."""

from __future__ import annotations

import csv
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from data.examples import make_example
from pipeline.cli import main
from serving.local import LocalModel
from serving.signatures import DEFAULT_MODEL_NAME


def _cli(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse exits by itself
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _images(count: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 28, 28)).astype(np.uint8)


@pytest.fixture
def png_folder(tmp_path):
    """13 good PNGs, plus a text file, a 29x29 PNG, an empty file, a FIFO and a hidden file."""
    folder = tmp_path / "pngs"
    folder.mkdir()
    for n, image in enumerate(_images(13)):
        assert cv2.imwrite(str(folder / f"img{n:02d}.png"), image)
    (folder / "notes.txt").write_text("not an image")
    assert cv2.imwrite(str(folder / "big.png"), np.zeros((29, 29), np.uint8))
    (folder / "empty.png").write_bytes(b"")
    (folder / ".DS_Store").write_bytes(b"\0")
    os.mkfifo(folder / "pipe.png")  # nobody writes to it: reading it would hang
    return folder


def _expected(real_serving_root, images: np.ndarray) -> np.ndarray:
    model = LocalModel(real_serving_root / DEFAULT_MODEL_NAME / "3")
    return model.call("predict_images", {"images": images.astype(np.float32)})["probabilities"]


def test_folder_streams_in_batches_to_csv_and_skips_bad_files(
    real_serving_root, png_folder, tmp_path, capsys
):
    output = tmp_path / "out.csv"
    argv = ["predict", str(png_folder), "--serving-root", str(real_serving_root), "--output", str(output)]
    code, out, err = _cli([*argv, "--batch-size", "4"], capsys)
    assert code == 0, err
    rows = list(csv.reader(output.open()))
    assert rows[0][:2] == ["id", "class"] and len(rows[0]) == 12
    assert len(rows) == 1 + 13
    # Each bad file is listed once, and counted at the end.
    for name in ("notes.txt", "big.png", "empty.png", "pipe.png: not a regular file"):
        assert sum(name in line for line in err.splitlines()) == 1, err
    assert "13 images predicted" in err and "4 skipped" in err and ".DS_Store" not in err
    # The values are the model's, whatever the batch each image travelled in.
    by_id = {row[0]: np.array(row[2:], dtype=np.float64) for row in rows[1:]}
    ids = sorted(by_id)
    images = np.stack([cv2.imread(path, cv2.IMREAD_UNCHANGED) for path in ids])
    np.testing.assert_allclose(
        np.stack([by_id[i] for i in ids]), _expected(real_serving_root, images), atol=2e-6
    )


def test_strict_stops_at_the_first_bad_file_and_writes_nothing(
    real_serving_root, png_folder, tmp_path, capsys
):
    output = tmp_path / "out.csv"
    argv = ["predict", str(png_folder), "--serving-root", str(real_serving_root), "--output", str(output)]
    code, out, err = _cli([*argv, "--strict"], capsys)
    assert code == 2
    assert (
        len(err.strip().splitlines()) == 1 and err.startswith("fashion-tfx: error: ") and "(--strict)" in err
    )
    assert not output.exists() and os.listdir(tmp_path) == ["pngs"]


def test_tfrecord_of_examples_to_json_lines(real_serving_root, tmp_path, capsys):
    images = _images(10, seed=5)
    path = tmp_path / "catalogue.tfrecord.gz"
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for n, image in enumerate(images):
            writer.write(make_example(image, n % 10, f"item:{n}").SerializeToString())
    output = tmp_path / "out.jsonl"
    code, _, err = _cli(
        ["predict", str(path), "--serving-root", str(real_serving_root), "--output", str(output),
         "--signature", "serving_default", "--batch-size", "3"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"item:{n}" for n in range(10)]
    probabilities = np.array([list(row["probabilities"].values()) for row in rows])
    np.testing.assert_allclose(probabilities, _expected(real_serving_root, images), atol=2e-6)


def test_embed_to_npy_matches_the_embed_signature(real_serving_root, png_folder, tmp_path, capsys):
    output = tmp_path / "embeddings.npy"
    code, _, err = _cli(
        ["embed", str(png_folder), "--serving-root", str(real_serving_root), "--output", str(output)], capsys
    )
    assert code == 0, err
    embeddings = np.load(output)
    ids = (tmp_path / "embeddings.ids.txt").read_text().splitlines()
    assert embeddings.shape[0] == len(ids) == 13
    images = np.stack([cv2.imread(i, cv2.IMREAD_UNCHANGED) for i in ids]).astype(np.float32)
    model = LocalModel(real_serving_root / DEFAULT_MODEL_NAME / "3")
    np.testing.assert_allclose(embeddings, model.call("embed", {"images": images})["embedding"], atol=1e-5)


def _sparse_file(path):
    with open(path, "wb") as out:
        out.truncate(3 << 30)  # 3 GB of holes: costs no disk
    return path


def _fifo(path):
    os.mkfifo(path)
    return path


# (case, how to make the input from tmp_path, extra options, what the one line must say)
BAD_INPUTS = {
    "FIFO": (lambda d: _fifo(d / "pipe.png"), [], "pipe.png: not a regular file"),
    "/dev/zero": (lambda d: "/dev/zero", [], "/dev/zero: not a regular file"),
    "3 GB sparse file": (lambda d: _sparse_file(d / "huge.png"), [], "3221225472 bytes is too large"),
    "empty folder": (lambda d: d, [], "work: a folder, with no file in it (--strict)"),
    "timeout NaN": (lambda d: d, ["--timeout", "nan"], "--timeout: must be a finite number of seconds"),
    "timeout negative": (lambda d: d, ["--timeout", "-1"], "--timeout: must be a finite number of seconds"),
    "timeout infinite": (lambda d: d, ["--timeout", "inf"], "--timeout: must be a finite number of seconds"),
    "version in Arabic-Indic digits": (
        lambda d: d,
        ["--version", "١٢"],
        "--version: a version is a number of 0 or more in ASCII digits",
    ),
    "version superscript": (
        lambda d: d,
        ["--version", "²"],
        "--version: a version is a number of 0 or more in ASCII digits",
    ),
    "batch size above max batch": (lambda d: d, ["--batch-size", "300"], "--batch-size must lie in 1..256"),
    "output in a missing folder": (lambda d: d, ["--output", "/nonexistent/x.csv"], "does not exist"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, real_serving_root, tmp_path, capsys):
    make, extra, message = BAD_INPUTS[case]
    work = tmp_path / "work"
    work.mkdir()
    target = make(work)
    output = tmp_path / "out.csv"
    argv = ["predict", str(target), "--serving-root", str(real_serving_root)]
    if "--output" not in extra:
        argv += ["--output", str(output)]
    code, out, err = _cli([*argv, *extra, "--strict"], capsys)
    assert code == 2, err
    assert out == "" and err.startswith("fashion-tfx: error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err
    assert os.listdir(tmp_path) == ["work"], "nothing may be written"


def test_version_folders_that_are_not_ascii_numbers_are_ignored(real_serving_root, tmp_path, capsys):
    root = tmp_path / "root"
    base = root / DEFAULT_MODEL_NAME
    source = real_serving_root / DEFAULT_MODEL_NAME / "3"
    # '١٢' (Arabic-Indic 12) and '²' pass str.isdigit(); neither is a TF Serving version.
    for name in ("3", "١٢", "²", "12a"):
        shutil.copytree(source, base / name)
    png = tmp_path / "a.png"
    assert cv2.imwrite(str(png), _images(1)[0])
    code, out, err = _cli(["predict", str(png), "--serving-root", str(root), "--version", "3"], capsys)
    assert code == 0, err
    from serving.local import resolve_model_dir
    from serving.versions import served_versions

    assert served_versions(base) == [3]
    assert resolve_model_dir(serving_root=root).name == "3"
    shutil.rmtree(base / "3")
    code, out, err = _cli(["predict", str(png), "--serving-root", str(root)], capsys)
    assert code == 1 and "no SavedModel and no numeric version folder" in err and len(err.splitlines()) == 1


def test_default_serving_root_does_not_depend_on_the_current_folder(tmp_path, monkeypatch):
    from pipeline.cli import build_parser

    before = build_parser().parse_args(["predict", "x.png"]).serving_root
    monkeypatch.chdir(tmp_path)
    after = build_parser().parse_args(["predict", "x.png"]).serving_root
    run_root = build_parser().parse_args(["run"]).root
    assert before == after and os.path.isabs(after)
    assert after == os.path.join(run_root, "serving")


@pytest.fixture
def small_index(real_serving_root, png_folder, tmp_path_factory, capsys) -> str:
    index = tmp_path_factory.mktemp("index") / "small.parquet"
    code, _, err = _cli(
        ["embed", str(png_folder), "--serving-root", str(real_serving_root), "--output", str(index)], capsys
    )
    assert code == 0, err
    return str(index)


# (case, arguments after `similar QUERY`, expected exit code, what the one line must say)
SIMILAR_BAD_INPUTS = {
    "k zero": (["--index", "{index}", "-k", "0"], 2, "-k must lie in 1..100, got 0"),
    "k not ASCII": (["--index", "{index}", "-k", "٥"], 2, "-k: not a whole number in ASCII digits"),
    "index missing": (["--index", "{work}/none.parquet"], 2, "none.parquet: no such index file"),
    "index not parquet": (["--index", "{work}/x.npy"], 2, "must be a Parquet catalogue"),
    "index of garbage": (["--index", "{work}/garbage.parquet"], 2, "unreadable Parquet file"),
    "grid not a PNG": (["--index", "{index}", "--grid", "{work}/grid.jpg"], 2, "must be a .png file"),
    "grid folder missing": (["--index", "{index}", "--grid", "/nonexistent/g.png"], 2, "does not exist"),
    "index from another model": (
        ["--index", "{index}", "--serving-root", "{stand_in}"],
        2,
        "made by another model",
    ),
}


@pytest.mark.parametrize("case", sorted(SIMILAR_BAD_INPUTS))
def test_similar_bad_input_is_one_line_and_writes_nothing(
    case, small_index, real_serving_root, serving_root, png_folder, tmp_path, capsys
):
    args, expected_code, message = SIMILAR_BAD_INPUTS[case]
    work = tmp_path / "work"
    work.mkdir()
    (work / "garbage.parquet").write_bytes(b"PAR1 not really")
    places = dict(index=small_index, work=work, stand_in=serving_root)
    argv = ["similar", str(png_folder / "img00.png"), *[a.format(**places) for a in args]]
    if "--serving-root" not in argv:
        argv += ["--serving-root", str(real_serving_root)]
    if "--grid" not in argv:
        argv += ["--grid", str(work / "grid.png")]
    code, out, err = _cli(argv, capsys)
    assert code == expected_code, err
    assert out == "" and err.startswith("fashion-tfx: error: ") and len(err.strip().splitlines()) == 1, err
    assert message in err
    assert sorted(os.listdir(work)) == ["garbage.parquet"], "nothing may be written"


def test_embed_refuses_an_unknown_output_format_and_writes_nothing(
    real_serving_root, png_folder, tmp_path, capsys
):
    output = tmp_path / "e.csv"
    code, _, err = _cli(
        ["embed", str(png_folder), "--serving-root", str(real_serving_root), "--output", str(output)], capsys
    )
    assert code == 2 and "give a .npy or .parquet output file" in err and len(err.strip().splitlines()) == 1
    assert not output.exists()
