"""Benchmark of the ImageUpscaler: its Beam job against a bare single-process loop, and its footprint.

Run as `python -m bench.upscaler [--limit N]`. Ingests the real Fashion-MNIST files (all 70,000
images, or N per split), then in the same run times (1) the component's executor on the Beam
DirectRunner with 2 worker processes and (2) a plain loop doing the same work per image (read
TFRecords, parse, decode, cv2.resize, encode PNG, write gzip TFRecords); and measures the upscaled
artifact's bytes on disk against the float32 arrays the original design stored.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from bench.common import figure, write_results
from data.fashion_mnist import DEBIAN_DIR
from pipeline.config import CHECKOUT_SETUP_FILE, MULTI_PROCESS_BEAM_ARGS, with_beam_dependency

IMAGE_SIZE = 128
INTERPOLATION = "linear"
BEAM_ARGS = list(with_beam_dependency(MULTI_PROCESS_BEAM_ARGS, str(CHECKOUT_SETUP_FILE)))
THROUGHPUT_TARGET = 1.0  # the component (2 workers) at least as fast as the bare loop
FOOTPRINT_TARGET = 8.0  # at least 8x smaller than float32 arrays
SPLITS = ("train", "eval", "test")


def run_component(raw_uri: Path, out_root: Path) -> float:
    """Runs the ImageUpscaler executor on 2 Beam workers; returns wall seconds."""
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import artifact_utils, standard_artifacts

    from components.upscaler import executor, spec

    source = standard_artifacts.Examples()
    source.uri = str(raw_uri)
    source.split_names = artifact_utils.encode_split_names(list(SPLITS))
    examples, report = standard_artifacts.Examples(), spec.ResizeReport()
    examples.uri, report.uri = str(out_root / "examples"), str(out_root / "report")
    os.makedirs(examples.uri)
    os.makedirs(report.uri)
    context = BaseBeamExecutor.Context(beam_pipeline_args=BEAM_ARGS, tmp_dir=str(out_root / "tmp"))
    started = time.perf_counter()
    executor.Executor(context).Do(
        {spec.INPUT_EXAMPLES: [source]},
        {spec.EXAMPLES: [examples], spec.REPORT: [report]},
        {spec.IMAGE_SIZE: IMAGE_SIZE, spec.INTERPOLATION: INTERPOLATION},
    )
    return time.perf_counter() - started


def run_bare_loop(raw_uri: Path, out_root: Path, stages: dict[str, float]) -> tuple[float, int]:
    """The baseline: one process, one image at a time; returns (wall seconds, images).

    `stages` receives the seconds spent in each step (timed with perf_counter around each call).
    """
    from data.examples import HEIGHT_KEY, IMAGE_KEY, WIDTH_KEY, encode_png, read_example
    from data.resize import round_to_uint8

    flag = cv2.INTER_LINEAR
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    count = 0
    clock = time.perf_counter
    for key in ("read", "parse_decode", "resize", "encode_png", "serialize", "write"):
        stages[key] = 0.0
    started = clock()
    for split in SPLITS:
        os.makedirs(out_root / f"Split-{split}")
        for n, path in enumerate(sorted(glob.glob(str(raw_uri / f"Split-{split}" / "*")))):
            out_path = str(out_root / f"Split-{split}" / f"data_tfrecord-{n:05d}.gz")
            with tf.io.TFRecordWriter(out_path, options) as writer:
                records = tf.compat.v1.io.tf_record_iterator(path, options)
                while True:
                    t0 = clock()
                    serialized = next(records, None)
                    t1 = clock()
                    if serialized is None:
                        stages["read"] += t1 - t0
                        break
                    image, _, _, example = read_example(serialized)
                    t2 = clock()
                    upscaled = round_to_uint8(
                        cv2.resize(image.astype(np.float32), (IMAGE_SIZE, IMAGE_SIZE), interpolation=flag)
                    )
                    t3 = clock()
                    png = encode_png(upscaled)
                    t4 = clock()
                    feature = example.features.feature
                    feature[IMAGE_KEY].bytes_list.value[:] = [png]
                    feature[HEIGHT_KEY].int64_list.value[:] = [IMAGE_SIZE]
                    feature[WIDTH_KEY].int64_list.value[:] = [IMAGE_SIZE]
                    record = example.SerializeToString()
                    t5 = clock()
                    writer.write(record)
                    t6 = clock()
                    stages["read"] += t1 - t0
                    stages["parse_decode"] += t2 - t1
                    stages["resize"] += t3 - t2
                    stages["encode_png"] += t4 - t3
                    stages["serialize"] += t5 - t4
                    stages["write"] += t6 - t5
                    count += 1
    return clock() - started, count


def beam_start_up_seconds() -> float:
    """Wall time of a trivial pipeline on the same runner: the fixed cost of starting the workers."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    started = time.perf_counter()
    with beam.Pipeline(options=PipelineOptions(BEAM_ARGS)) as pipeline:
        _ = pipeline | beam.Create([1, 2, 3]) | beam.Map(abs)
    return time.perf_counter() - started


def folder_bytes(root: Path, pattern: str = "Split-*/*") -> int:
    return sum(os.path.getsize(p) for p in glob.glob(str(root / pattern)))


def count_records(root: Path) -> int:
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    return sum(
        1
        for p in glob.glob(str(root / "Split-*" / "*"))
        for _ in tf.compat.v1.io.tf_record_iterator(p, options)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.upscaler", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="images per split (default: all 70,000)")
    parser.add_argument("--data-dir", default=str(DEBIAN_DIR))
    parser.add_argument("--work-dir", help="scratch folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from data.ingest import ingest_idx

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-upscaler-"))
    try:
        caps = {split: args.limit for split in SPLITS} if args.limit else None
        raw = work / "raw"
        started = time.perf_counter()
        ingest_idx(args.data_dir, raw, eval_fraction=1 / 6, seed=42, caps=caps)
        ingest_seconds = time.perf_counter() - started

        load_at_start = os.getloadavg()
        start_up_seconds = beam_start_up_seconds()
        component_seconds = run_component(raw, work / "component")
        stages: dict[str, float] = {}
        bare_seconds, images = run_bare_loop(raw, work / "bare", stages)

        component_images = count_records(work / "component" / "examples")
        if component_images != images:
            raise RuntimeError(f"the component wrote {component_images} images, the bare loop {images}")
        component_rate, bare_rate = images / component_seconds, images / bare_seconds
        disk = folder_bytes(work / "component" / "examples")
        float32_bytes = images * IMAGE_SIZE * IMAGE_SIZE * 4
        throughput_ratio = component_rate / bare_rate
        footprint_ratio = float32_bytes / disk
        figures = [
            figure(
                "ImageUpscaler Beam job throughput (DirectRunner, multi_processing, 2 workers), "
                "including worker start-up and the fidelity report",
                round(component_rate, 1),
                "images/s",
                baseline=round(bare_rate, 1),
                baseline_what="bare single-process loop: read TFRecords, parse, decode PNG, cv2.resize, "
                "encode PNG, write gzip TFRecords",
                ratio=round(throughput_ratio, 3),
                target=f">= {THROUGHPUT_TARGET}x the bare loop",
                met=throughput_ratio >= THROUGHPUT_TARGET,
            ),
            figure(
                f"upscaled Examples on disk ({images} images at {IMAGE_SIZE}x{IMAGE_SIZE}, "
                "PNG in gzip TFRecords)",
                disk,
                "bytes",
                baseline=float32_bytes,
                baseline_what=f"float32 arrays: {images}*{IMAGE_SIZE}*{IMAGE_SIZE}*4 bytes",
                ratio=round(footprint_ratio, 2),
                target=f">= {FOOTPRINT_TARGET}x smaller than float32",
                met=footprint_ratio >= FOOTPRINT_TARGET,
            ),
        ]
        details = {
            "reproduce": ".venv/bin/python -m bench.upscaler"
            + (f" --limit {args.limit}" if args.limit else ""),
            "images": images,
            "image_size": IMAGE_SIZE,
            "interpolation": INTERPOLATION,
            "beam_pipeline_args": BEAM_ARGS,
            "component_seconds": round(component_seconds, 2),
            "bare_loop_seconds": round(bare_seconds, 2),
            "bare_loop_seconds_per_stage": {k: round(v, 2) for k, v in stages.items()},
            "ingest_seconds": round(ingest_seconds, 2),
            "raw_examples_bytes": folder_bytes(raw),
            "bare_loop_output_bytes": folder_bytes(work / "bare"),
            "beam_worker_start_up_seconds": round(start_up_seconds, 2),
            "component_images_per_s_without_start_up": round(
                images / (component_seconds - start_up_seconds), 1
            ),
            "nproc": os.cpu_count(),
            # Other engineers share the 2 cores: a load average above 2 means the figures are contended.
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
        }
        path = write_results("upscaler", figures, details)
        print(f"wrote {path}")
        print(
            f"component {component_rate:.0f} img/s ({component_seconds:.1f}s), "
            f"bare loop {bare_rate:.0f} img/s ({bare_seconds:.1f}s): ratio {throughput_ratio:.2f}; "
            f"disk {disk / 1e6:.1f} MB vs float32 "
            f"{float32_bytes / 1e9:.2f} GB: {footprint_ratio:.1f}x smaller"
        )
        print("bare loop seconds per stage:", details["bare_loop_seconds_per_stage"])
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
