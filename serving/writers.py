"""How `predict` presents its answers: lines for the terminal, or CSV / JSON Lines rows for a file."""

from __future__ import annotations

import argparse

from serving.exit_codes import printable


def format_predictions(payload, predictions, k: int = 3) -> str:
    """Renders one line per input: its name, the predicted class and the top-k probabilities.

    Names are made terminal-safe (a file name could carry escape sequences).
    """
    from data.classes import CLASS_NAMES

    lines = []
    for i, name in enumerate(payload.names):
        top = "  ".join(f"{cls} {p:.3f}" for cls, p in predictions.top(i, k))
        truth = "" if payload.labels[i] is None else f" (true: {CLASS_NAMES[payload.labels[i]]})"
        lines.append(f"{printable(name)}{truth}: {predictions.class_name[i]}  |  {top}")
    return "\n".join(lines)


def output_format(args: argparse.Namespace) -> str:
    """The output format: `--output-format`, else from `--output`'s extension (CSV by default)."""
    if args.output_format:
        return args.output_format
    output = (args.output or "").lower()
    return "jsonl" if output.endswith((".jsonl", ".json", ".ndjson")) else "csv"


class PredictionWriter:
    """Writes prediction rows as CSV (id, class, one probability column per class) or JSON Lines."""

    def __init__(self, stream, form: str):
        import csv

        from data.classes import CLASS_NAMES

        self._stream = stream
        self._form = form
        self._classes = CLASS_NAMES
        self._csv = csv.writer(stream, lineterminator="\n") if form == "csv" else None
        self._header_due = form == "csv"

    def write(self, ids, predictions) -> None:
        """Writes one row per input of a batch (the CSV header before the first: nothing for no rows)."""
        import json

        if self._header_due:
            self._csv.writerow(["id", "class", *self._classes])
            self._header_due = False

        for i, item_id in enumerate(ids):
            probabilities = [round(float(p), 6) for p in predictions.probabilities[i]]
            if self._csv is not None:
                self._csv.writerow([item_id, predictions.class_name[i], *probabilities])
            else:
                row = {
                    "id": item_id,
                    "class": predictions.class_name[i],
                    "probabilities": dict(zip(self._classes, probabilities, strict=True)),
                }
                self._stream.write(json.dumps(row) + "\n")
