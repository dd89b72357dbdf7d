"""The anomaly gate on crafted statistics: missing, unexpected and out-of-domain features are named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from components.anomaly_gate.gate import ANOMALIES_FILE, SchemaAnomalyError, check_anomalies

SCHEMA = Path(__file__).resolve().parents[2] / "data" / "schema.pbtxt"


def _frame(count: int = 6, **changes) -> pd.DataFrame:
    """A few examples as the schema describes them, with columns replaced (a list) or dropped (None)."""
    columns = {
        "height": [28] * count,
        "width": [28] * count,
        "id": [f"train-images-idx3-ubyte:{i}".encode() for i in range(count)],
        "image": [b"\x89PNG fake" for _ in range(count)],
        "label": [i % 10 for i in range(count)],
    }
    for name, values in changes.items():
        if values is None:
            columns.pop(name)
        else:
            columns[name] = values
    return pd.DataFrame(columns)


def _anomalies_artifact(tmp_path: Path, frame: pd.DataFrame) -> str:
    """Writes ExampleValidator's layout (Split-train/SchemaDiff.pb) for the frame's statistics."""
    statistics = tfdv.generate_statistics_from_dataframe(frame)
    anomalies = tfdv.validate_statistics(statistics, tfdv.load_schema_text(str(SCHEMA)))
    split = tmp_path / "anomalies" / "Split-train"
    split.mkdir(parents=True)
    (split / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
    return str(tmp_path / "anomalies")


CASES = {
    "missing label": ({"label": None}, "label: Column dropped"),
    "missing image": ({"image": None}, "image: Column dropped"),
    "unexpected feature": ({"colour": ["red"] * 6}, "colour: New column"),
    # Labels outside 0-9 are refused at ingestion, so only crafted statistics can bring one here.
    "out-of-domain label": ({"label": [0, 1, 2, 3, 4, 12]}, "label: Out-of-range values"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_gate_stops_and_names_the_feature(case, tmp_path):
    changes, message = CASES[case]
    uri = _anomalies_artifact(tmp_path, _frame(**changes))
    with pytest.raises(SchemaAnomalyError, match=f"split train: .*{message}"):
        check_anomalies(uri, stop_on_anomalies=True)
    # Configurable: with the gate open, the same anomalies are returned rather than raised.
    found = check_anomalies(uri, stop_on_anomalies=False)
    assert any(line.startswith(message) for line in found["train"]), found


def test_clean_statistics_pass_the_gate(tmp_path):
    assert check_anomalies(_anomalies_artifact(tmp_path, _frame()), stop_on_anomalies=True) == {}
