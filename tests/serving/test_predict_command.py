"""`fashion-tfx predict` end to end with the local backend, and its one-line errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from support import FASHION_CLASS_NAMES

from pipeline.cli import main


@pytest.fixture
def png_files(tmp_path, good_images):
    paths = []
    for n, image in enumerate(good_images[:2]):
        path = tmp_path / f"img{n}.png"
        assert cv2.imwrite(str(path), image)
        paths.append(str(path))
    return paths


def test_predict_prints_class_names_and_top3(
    serving_root, png_files, tiny_idx_dir, capsys, expected, good_images
):
    code = main(
        [
            "predict",
            *png_files,
            "--index",
            "5",
            "--data-dir",
            str(tiny_idx_dir),
            "--serving-root",
            str(serving_root),
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(out) == 3
    names = FASHION_CLASS_NAMES
    probabilities = expected(good_images[:2])
    for path, line, probs in zip(png_files, out[:2], probabilities, strict=True):
        top = np.argsort(-probs)[:3]
        top3 = "  ".join(f"{names[i]} {probs[i]:.3f}" for i in top)
        assert line == f"{path}: {names[top[0]]}  |  {top3}"
    assert out[2].startswith("test[5] (true: ")


def test_predict_serving_default_matches_predict_images(serving_root, png_files, capsys):
    assert main(["predict", *png_files, "--serving-root", str(serving_root)]) == 0
    by_images = capsys.readouterr().out
    assert (
        main(["predict", *png_files, "--serving-root", str(serving_root), "--signature", "serving_default"])
        == 0
    )
    assert capsys.readouterr().out == by_images


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "empty batch: give PNG files and/or --index N"),
        (["{bad}"], "bad.txt: not a PNG image"),
        (["{big}"], "oversized image 29x29"),
        (["{missing}"], "missing.png: cannot read file"),
        (["{good}", "{good}", "{good}", "--max-batch", "2"], "oversized batch: 3 images, at most 2"),
        (["--index", "99", "--data-dir", "{idx}"], "index 99 is outside the test split"),
        (["{good}", "--serving-root", "{empty}"], "no SavedModel and no numeric version"),
        (["{good}", "--serving-root", "{root}", "--model-name", "../x"], "invalid model name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_or_1(
    tmp_path, serving_root, tiny_idx_dir, png_files, capsys, args, message
):
    (tmp_path / "bad.txt").write_text("hello")
    assert cv2.imwrite(str(tmp_path / "big.png"), np.zeros((29, 29), np.uint8))
    (tmp_path / "empty").mkdir()
    places = dict(
        bad=tmp_path / "bad.txt",
        big=tmp_path / "big.png",
        missing=tmp_path / "missing.png",
        good=png_files[0],
        idx=tiny_idx_dir,
        empty=tmp_path / "empty",
        root=serving_root,
    )
    argv = ["predict", "--serving-root", str(serving_root)] + [a.format(**places) for a in args]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == (1 if "no SavedModel" in message else 2)
    assert captured.out == ""
    assert captured.err.startswith("fashion-tfx: error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
