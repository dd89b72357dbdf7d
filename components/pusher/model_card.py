"""Copying a blessed model's card (and the pictures it shows) into a pushed version's assets.extra/."""

from __future__ import annotations

import os

from tfx.dsl.io import fileio

from components.evaluation_report.report import CONFUSION_PNG
from components.evaluation_report.spec import MODEL_CARD_JSON, MODEL_CARD_MARKDOWN
from models.trainer import CURVES_PNG
from serving.signatures import ASSETS_EXTRA

CARD_FILES = (MODEL_CARD_JSON, MODEL_CARD_MARKDOWN, CONFUSION_PNG, CURVES_PNG)
REQUIRED = (MODEL_CARD_JSON, MODEL_CARD_MARKDOWN)


def check_model_card(report_dir: str) -> None:
    """Raises FileNotFoundError unless the report holds a model card (checked before pushing)."""
    missing = [name for name in REQUIRED if not fileio.exists(os.path.join(report_dir, name))]
    if missing:
        raise FileNotFoundError(f"{report_dir}: the evaluation report has no {', '.join(missing)}; "
                                "a blessed model is pushed only with its model card")  # fmt: skip


def ship_model_card(report_dir: str, version_dir: str) -> list[str]:
    """Copies the model card files found in `report_dir` into `<version_dir>/assets.extra/`.

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
    return copied
