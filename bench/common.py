"""What every benchmark shares: the machine's description and the results-file format."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from models.settings import CPUINFO, bfloat16_units
from pipeline import ONEDNN

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def utc_now() -> str:
    """The current UTC time to the second, ISO 8601: when a result was measured."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """Describes the machine a figure came from."""
    cpu = platform.processor() or ""
    try:
        with open(CPUINFO) as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as info:
            kb = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
            memory_gb = round(kb / 1024**2, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        # Training arithmetic follows them (models.settings.training_policy): bfloat16 or float32.
        "bfloat16_units": bfloat16_units(),
        # TensorFlow's kernel switch in this process (pipeline.ONEDNN; `bench` imports `pipeline` first).
        "onednn": os.environ.get(ONEDNN),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "host": platform.node(),
    }


def units_words(units: list[str] | tuple[str, ...] | None) -> str:
    """Words for a machine's recorded `bfloat16_units`: which, none, or unknown (None)."""
    if units is None:
        return "bfloat16 units unknown"
    return f"bfloat16 units: {', '.join(units)}" if units else "no bfloat16 units"


def figure(
    what: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_what: str = "",
    ratio: float | None = None,
    target: str = "",
    met: bool | None = None,
) -> dict[str, Any]:
    """One measured figure, with its same-run baseline, the ratio, and the target it is held to."""
    if ratio is None and baseline:
        ratio = value / baseline
    return {
        "what": what,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_what": baseline_what,
        "ratio": ratio,
        "target": target,
        "met": met,
    }


def command_line() -> str:
    """Returns the command that is running, as a user would type it from the repo root."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    argv = ["-m", spec.name, *sys.argv[1:]] if spec is not None and spec.name else sys.argv
    return " ".join([".venv/bin/python", *(shlex.quote(a) for a in argv)])


def code_commit() -> str:
    """Returns the commit of the code being measured (`git rev-parse`), marked if the tree has edits.

    Results and BENCHMARKS.md do not count as edits: a run rewrites them.
    """
    root = RESULTS_DIR.parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!bench/results", ":!BENCHMARKS.md"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head}+uncommitted changes" if changed else head


# The code a benchmark measures is what was checked out when it started: a long run may outlast an edit.
COMMIT_AT_START = code_commit()


def write_results(name: str, figures: list[dict[str, Any]], details: dict[str, Any] | None = None) -> Path:
    """Writes bench/results/<name>.json with the figures, the machine, the time and the command."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "measured_at": utc_now(),
        "commit": COMMIT_AT_START,
        "command": command_line(),
        "machine": machine(),
        "figures": figures,
        "details": details or {},
    }
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path
