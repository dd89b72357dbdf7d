"""One command for every benchmark, in sequence, then BENCHMARKS.md regenerated from their results.

Run as `python -m bench.run [--quick] [--with-full]` (`make bench` runs the quick mode). Order:
the upscaler on all 70,000 images (`bench.upscaler`); the quick profile end to end with the plain
Keras baseline (`bench.pipeline_cost`); then, on that same run's artifacts, training throughput
(`bench.training`), serving latency (`bench.serving`) and batch prediction over the 10,000 test
images (`bench.batch_predict`); last `bench.report`. `--quick` times fewer
images in the training benchmark; `--with-full` adds the full profile end to end (hours on 2 cores).
Each step runs in its own process, so one step's memory and threads do not colour the next.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def step(module: str, *args: str) -> float:
    """Runs `python -m module args...`; returns its wall seconds (raises if it fails)."""
    command = [sys.executable, "-m", module, *args]
    print(f"bench.run: {' '.join(command)}  (load average {os.getloadavg()[0]:.2f})", flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    print(f"bench.run: {module} took {seconds:.0f}s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> None:
    """Runs the benchmarks and regenerates BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the < 30-minute mode")
    parser.add_argument("--with-full", action="store_true", help="also the full profile (hours)")
    parser.add_argument("--root", help="run root for the quick pipeline (default: a temporary folder)")
    args = parser.parse_args(argv)
    root = args.root or tempfile.mkdtemp(prefix="bench-quick-")
    started = time.perf_counter()
    step("bench.upscaler")
    step("bench.pipeline_cost", "--profile", "quick", "--root", root)
    step("bench.training", "--root", root, *(["--images", "2000"] if args.quick else []))
    step("bench.serving", "--root", root)
    step("bench.batch_predict", "--root", root)
    if args.with_full:
        full_root = tempfile.mkdtemp(prefix="bench-full-")
        step("bench.pipeline_cost", "--profile", "full", "--root", full_root, "--no-baseline")
    step("bench.report")
    print(f"bench.run: all benchmarks took {time.perf_counter() - started:.0f}s; quick run under {root}")


if __name__ == "__main__":
    main()
