"""Which folder is a model version and which is newest: one rule, TF Serving's (ASCII decimal names)."""

from __future__ import annotations

import pytest

from serving.versions import SAVED_MODEL_FILE, newest_version, served_versions, version_number

NAMES = {
    "1": 1,
    "0007": 7,
    "1700000000": 1700000000,
    "12/": 12,  # as a bucket listing names a folder
    "٩٩٩": None,  # Arabic-Indic digits: str.isdigit() is True, int() reads 999, TF Serving ignores it
    "²": None,  # superscript two: str.isdigit() is True, int() raises
    "４２": None,  # full-width digits
    "12a": None,
    "-1": None,
    "+1": None,
    " 1": None,
    "": None,
    ".staging-5": None,
    "1" * 19: None,  # beyond an int64's safe range
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_only_plain_ascii_numbers_are_versions(name):
    assert version_number(name) == NAMES[name]


def test_the_newest_version_ignores_folders_tf_serving_ignores(tmp_path):
    base = tmp_path / "fashion-tfx"
    for name in ("3", "10", "٩٩٩٩٩٩٩٩٩٩٩", "²", "99"):
        (base / name).mkdir(parents=True)
        if name != "99":  # 99 holds no SavedModel yet (a copy in progress)
            (base / name / SAVED_MODEL_FILE).write_bytes(b"graph")
    assert served_versions(base) == [3, 10]
    assert newest_version(base) == (10, str(base / "10"))
    assert newest_version(tmp_path / "nothing") is None and served_versions(tmp_path / "nothing") == []


def test_the_saved_model_file_name_is_tensorflows():
    import tensorflow as tf

    assert SAVED_MODEL_FILE == tf.saved_model.SAVED_MODEL_FILENAME_PB
