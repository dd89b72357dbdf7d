"""Copying a blessed model's card (and the pictures it shows) into a pushed version's assets.extra/."""

from __future__ import annotations

import os
import posixpath

from tfx.dsl.io import fileio

from components.evaluation_report.model_card import stamp_served_version
from components.evaluation_report.report import CONFUSION_PNG
from components.evaluation_report.spec import MODEL_CARD_JSON, MODEL_CARD_MARKDOWN, MODEL_RECORD_JSON
from models.trainer import CURVES_PNG
from serving.signatures import ASSETS_EXTRA

CARD_FILES = (MODEL_CARD_JSON, MODEL_CARD_MARKDOWN, MODEL_RECORD_JSON, CONFUSION_PNG, CURVES_PNG)
REQUIRED = (MODEL_CARD_JSON, MODEL_CARD_MARKDOWN, MODEL_RECORD_JSON)


def check_model_card(report_dir: str) -> None:
    """Raises FileNotFoundError unless the report holds a model card (checked before pushing)."""
    missing = [name for name in REQUIRED if not fileio.exists(os.path.join(report_dir, name))]
    if missing:
        raise FileNotFoundError(f"{report_dir}: the evaluation report has no {', '.join(missing)}; "
                                "a blessed model is pushed only with its model card")  # fmt: skip


def ship_model_card(report_dir: str, version_dir: str, version: str) -> list[str]:
    """Copies the model card files found in `report_dir` into `<version_dir>/assets.extra/`.

    The shipped card then names the version it ships in (`stamp_served_version`).

    Args:
        report_dir: the EvaluationReport folder holding the card.
        version_dir: the version's folder (staged or published) under the model's serving folder.
        version: the version number clients see.

    Returns:
        The names of the files copied.
    """
    check_model_card(report_dir)
    target = os.path.join(version_dir, ASSETS_EXTRA)
    fileio.makedirs(target)
    copied = []
    for name in CARD_FILES:
        source = os.path.join(report_dir, name)
        if fileio.exists(source):
            fileio.copy(source, os.path.join(target, name), overwrite=True)
            copied.append(name)
    model_name = posixpath.basename(posixpath.dirname(version_dir.rstrip("/")))
    stamp_served_version(target, version, f"{model_name}/{version}")
    return copied
