"""bench.plain_keras's reading of a run's Trainer record: what a damaged record gets is a clear error."""

from __future__ import annotations

import json

import pytest

from bench.plain_keras import RunRecordError, main, read_run_record
from models.settings import FLOAT32
from models.trainer import ARITHMETIC, HISTORY_JSON, HYPERPARAMETERS_JSON


def _write_record(folder, values=None, settings=None, history=None, replace=None, drop=None, arithmetic=None):
    from tiny_export import tiny_model_choices

    chosen, hp = tiny_model_choices()
    values = dict(hp.values) if values is None else values
    if drop:
        del values[drop]
    record = {
        "values": values,
        "settings": chosen.to_custom_config() if settings is None else settings,
        "source": "defaults",
    }
    if arithmetic is not None:
        record[ARITHMETIC] = arithmetic
    (folder / HYPERPARAMETERS_JSON).write_text(json.dumps(record) if replace is None else replace)
    (folder / HISTORY_JSON).write_text(json.dumps({"loss": [1.0, 0.5]} if history is None else history))
    return record


def test_a_whole_record_gives_the_run_s_choices_and_epochs(tmp_path):
    record = _write_record(tmp_path)
    details = read_run_record(tmp_path)
    expected = {"hyperparameters": record["values"], "settings": record["settings"], "epochs": 2}
    assert details == {**expected, ARITHMETIC: None}  # recorded before the Trainer wrote it

    _write_record(tmp_path, arithmetic=FLOAT32)
    assert read_run_record(tmp_path)[ARITHMETIC] == FLOAT32


@pytest.mark.parametrize(
    "damage, message",
    [
        ({"replace": '{"values": {'}, "hyperparameters.json is not readable JSON"),
        ({"replace": "[1, 2]"}, "hyperparameters.json must hold a JSON object, got list"),
        ({"values": []}, "`values` must be a JSON object, got \\[\\]"),
        ({"settings": {"batch_size": 7}}, "`settings`: batch_size must be one of 16, 32, 64, 128, got 7"),
        ({"settings": {"image_size": "big"}}, "`settings`: "),
        ({"values": {"family": "rnn"}}, "family must be one of fcnn, cnn, resnet, transfer, got 'rnn'"),
        ({"drop": "cnn_filters"}, "`values` lacks cnn_filters, which the cnn model reads"),
        ({"history": {"val_loss": [1.0]}}, "history.json: no per-epoch `loss` list"),
        ({"arithmetic": "float16"}, "`arithmetic` must be float32 or mixed_bfloat16, got 'float16'"),
        ({"arithmetic": ["float32"]}, "`arithmetic` must be float32 or mixed_bfloat16, got \\['float32'\\]"),
    ],
    ids=[
        "cut short",
        "a list",
        "values not an object",
        "bad setting",
        "bad setting type",
        "family",
        "lacks",
        "history",
        "unknown arithmetic",
        "arithmetic not a name",
    ],
)
def test_a_damaged_record_is_one_clear_error_naming_the_file(tmp_path, damage, message):
    _write_record(tmp_path, **damage)
    with pytest.raises(RunRecordError, match=message) as error:
        read_run_record(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_a_root_without_a_finished_run_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--root", str(tmp_path)])
    assert exit_.value.code == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written into the folder named
