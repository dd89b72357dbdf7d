"""Batch prediction cost: `fashion-tfx predict` over the 10,000 test images written as PNG files.

Run as `python -m bench.batch_predict --root RUN_ROOT` after a pipeline run. Writes the real test images
(IDX `t10k`) as 28×28 PNGs into a temporary folder, then runs the CLI over that folder, in its own
process, into a CSV file: images per second (wall time of the whole command, model loading included,
and of the streaming part alone as the command reports it), and the process's peak RSS. The same
command over the first 1,000 of those images is the baseline: memory that stays flat while the input
grows tenfold is what "streamed in bounded memory" means.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import figure, write_results

SIZES = (1_000, 10_000)
CONSTANT_MEMORY_TARGET = 1.10  # peak RSS at 10,000 images over that at 1,000


def write_pngs(folder: Path, count: int) -> list[int]:
    """Writes the first `count` real test images as `test-<index>.png`; returns their labels."""
    import cv2

    from data import fashion_mnist as fm
    from data.idx import read_idx_images, read_idx_labels

    location = fm.locate(None, allow_download=False)
    images = read_idx_images(fm.file_path(location.directory, fm.TEST_IMAGES))[:count]
    labels = read_idx_labels(fm.file_path(location.directory, fm.TEST_LABELS))[:count]
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        cv2.imwrite(str(folder / f"test-{index:05d}.png"), image)
    return [int(label) for label in labels]


def run_predict(folder: Path, model_dir: str, output: Path) -> dict:
    """Runs `fashion-tfx predict FOLDER` in a child process; returns its wall seconds and peak RSS."""
    command = [
        str(Path(sys.executable).with_name("fashion-tfx")),
        "predict", str(folder), "--model-dir", model_dir, "--output", str(output), "--no-progress",
    ]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)  # the child's own peak RSS, not the whole tree's
    seconds = time.perf_counter() - started
    stderr = child.stderr.read()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({child.returncode}): {stderr}")
    return {
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stderr": stderr.strip().splitlines()[-1],
    }


def main(argv: list[str] | None = None) -> None:
    """Measures and writes bench/results/batch_predict.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="root of a finished pipeline run (its pushed model)")
    args = parser.parse_args(argv)
    from data.classes import CLASS_NAMES
    from serving.local import resolve_model_dir

    model_dir = str(resolve_model_dir(serving_root=Path(args.root) / "serving"))
    load_start = os.getloadavg()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        labels = write_pngs(Path(scratch, "all"), max(SIZES))
        for size in SIZES:
            folder = Path(scratch, "all") if size == max(SIZES) else Path(scratch, f"first{size}")
            if size != max(SIZES):
                folder.mkdir()
                for index in range(size):
                    os.link(Path(scratch, "all", f"test-{index:05d}.png"), folder / f"test-{index:05d}.png")
            output = Path(scratch, f"predictions-{size}.csv")
            runs[size] = run_predict(folder, model_dir, output)
            with output.open() as rows:
                table = list(csv.DictReader(rows))
            if len(table) != size:
                raise RuntimeError(f"{output}: {len(table)} rows for {size} images")
            correct = sum(
                CLASS_NAMES.index(row["class"]) == labels[int(Path(row["id"]).stem.split("-")[1])]
                for row in table
            )
            runs[size]["accuracy"] = correct / size
            runs[size]["images_per_s"] = size / runs[size]["seconds"]
    small, large = runs[min(SIZES)], runs[max(SIZES)]
    growth = large["peak_rss_mb"] / small["peak_rss_mb"]
    # The extra images over the extra time: what the stream sustains once the model is loaded.
    marginal = (max(SIZES) - min(SIZES)) / max(large["seconds"] - small["seconds"], 1e-9)
    figures = [
        figure(
            f"predict over a folder of {max(SIZES):,} PNGs: throughput (whole command, model load included)",
            round(large["images_per_s"], 1),
            "images/s",
        ),
        figure(
            f"predict, streaming rate past the first {min(SIZES):,} images (model load excluded)",
            round(marginal, 1),
            "images/s",
        ),
        figure(
            f"predict over a folder of {max(SIZES):,} PNGs: peak RSS",
            round(large["peak_rss_mb"], 1),
            "MB",
            baseline=round(small["peak_rss_mb"], 1),
            baseline_what=f"the same command over {min(SIZES):,} of them",
            ratio=growth,
            target=f"≤ {CONSTANT_MEMORY_TARGET}× the {min(SIZES):,}-image run (bounded memory)",
            met=growth <= CONSTANT_MEMORY_TARGET,
        ),
    ]
    path = write_results(
        "batch_predict",
        figures,
        {
            "reproduce": f".venv/bin/python -m bench.batch_predict --root {args.root}",
            "model_dir": model_dir,
            "runs": {str(size): run for size, run in runs.items()},
            "load_average_at_start": load_start,
            "load_average_at_end": os.getloadavg(),
            "notes": (
                "`fashion-tfx predict FOLDER --output CSV` (local backend, predict_images, batches of 64), "
                "each run in its own process; peak RSS is the child's ru_maxrss. Accuracy of the model on "
                f"these images (a check that every row belongs to its file): {large['accuracy']:.3f}."
            ),
        },
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
