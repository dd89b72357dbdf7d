"""The ImageUpscaler's Beam job: every split read, upscaled in batches and written, plus the report."""

from __future__ import annotations

import heapq
import posixpath
import uuid
from collections.abc import Callable, Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from compat import beam as beam_private
from components.upscaler.fidelity import write_fidelity_report
from data.examples import (
    HEIGHT_KEY,
    IMAGE_KEY,
    WIDTH_KEY,
    ExampleError,
    decode_png,
    encode_png,
    read_example,
)
from data.ingest import split_dir
from data.resize import SOURCE_SIZE, check_resize, upscale_images

SAMPLES_TAG = "samples"
SAMPLES_PER_CLASS = 20  # images per class measured in the fidelity report (the grid shows the first)
STAGING = ".staging"
READ_TASKS_PER_FILE = 4  # see ReadTFRecordFileFn
# Batches amortise the per-call overhead of the resize; the upper bound keeps memory small.
MIN_BATCH, MAX_BATCH = 32, 512

Sample = tuple[int, tuple[str, bytes, str]]  # (label, (example id, original PNG, split))


class UpscaleError(ValueError):
    """An input example cannot be upscaled; the message names the split, the record and the example."""


def split_folder(root: str, split: str) -> str:
    """Returns the folder of one split inside an Examples artifact at `root`, by TFX's own helper."""
    return split_dir(root, split)


def upscale_records(
    records: Iterable[tuple[str, bytes]],
    split: str,
    size: int,
    interpolation: str,
    source_size: int = SOURCE_SIZE,
    samples_per_class: int = SAMPLES_PER_CLASS,
) -> tuple[list[bytes], list[Sample]]:
    """Upscales the images of a batch of serialized Examples, keeping every other feature.

    Args:
        records: (location, serialized tf.Example) pairs, as read from the split's TFRecords; the
            location names the record in errors.
        split: the split's name, for error messages.
        size: side of the output images.
        interpolation: a key of `resize.INTERPOLATIONS`.
        source_size: the side every input image must have.
        samples_per_class: how many (smallest-id) originals per class to return for the report.

    Returns:
        The serialized upscaled Examples, and report samples as (label, (id, original PNG, split)).

    Raises:
        UpscaleError: an unparseable example, a missing or non-PNG image, or an image that is not
            source_size x source_size uint8.
    """
    parsed = []
    for location, serialized in records:
        where = f"split '{split}', {location}"
        try:
            image, label, example_id, example = read_example(serialized)
        except ExampleError as err:
            raise UpscaleError(f"{where}: {err}") from err
        if image.shape != (source_size, source_size):
            raise UpscaleError(
                f"{where}: example {example_id}: image is {image.shape[0]}x{image.shape[1]}, "
                f"expected {source_size}x{source_size}"
            )
        parsed.append((image, label, example_id, example))
    if not parsed:
        return [], []
    upscaled = upscale_images(np.stack([p[0] for p in parsed]), size, interpolation)
    outputs = []
    candidates: dict[int, list[tuple[str, bytes, str]]] = {}
    for (_, label, example_id, example), image in zip(parsed, upscaled, strict=True):
        feature = example.features.feature
        original_png = feature[IMAGE_KEY].bytes_list.value[0]
        candidates.setdefault(label, []).append((example_id, original_png, split))
        feature[IMAGE_KEY].bytes_list.value[:] = [encode_png(image)]
        feature[HEIGHT_KEY].int64_list.value[:] = [size]
        feature[WIDTH_KEY].int64_list.value[:] = [size]
        outputs.append(example.SerializeToString(deterministic=True))  # same bytes on every run
    # Only each batch's smallest ids can be among the smallest overall: the rest never leave the batch.
    samples = [
        (label, candidate)
        for label, members in candidates.items()
        for candidate in heapq.nsmallest(samples_per_class, members)
    ]
    return outputs, samples


class UpscaleBatchFn(beam.DoFn):
    """Upscales a batch of (task, location, serialized Example); report samples go to a tagged output.

    Emits one element per batch, a list of (task, upscaled record): Beam's per-element cost is then
    paid once per batch.
    """

    def __init__(self, split: str, size: int, interpolation: str, source_size: int, samples_per_class: int):
        self._args = (split, size, interpolation, source_size, samples_per_class)

    def process(self, batch: list[tuple[str, str, bytes]]) -> Iterator:
        outputs, samples = upscale_records([(location, record) for _, location, record in batch], *self._args)
        yield [(task, record) for (task, _, _), record in zip(batch, outputs, strict=True)]
        for sample in samples:
            yield beam.pvalue.TaggedOutput(SAMPLES_TAG, sample)


# Files go through Beam's FileSystems (local, gs://, ...), records through Beam's own TFRecord codec
# (what ReadFromTFRecord / WriteToTFRecord use; crc32c by crcmod's C extension). Not those transforms
# themselves: the read tasks below keep each file's record order and the commit keeps retried bundles
# out, so a rerun writes the same records in the same files in the same order.
def _compression(path: str) -> str:
    return CompressionTypes.GZIP if path.endswith(".gz") else CompressionTypes.UNCOMPRESSED


def iter_tfrecords(path: str) -> Iterator[bytes]:
    """Yields the records of a (gzip) TFRecord file, read through Beam's FileSystems."""
    with FileSystems.open(path, compression_type=_compression(path)) as source:
        while (record := beam_private.read_record(source)) is not None:
            yield record


def _makedirs(path: str) -> None:
    if not FileSystems.exists(path):
        FileSystems.mkdirs(path)


def _remove_tree(path: str) -> None:
    if "://" in path:  # an object store has no folders: delete every object under the prefix
        FileSystems.delete([path.rstrip("/") + "/"])
    elif FileSystems.exists(path):
        FileSystems.delete([path])


def _move_files(source_dir: str, destination_dir: str) -> None:
    """Moves every file of `source_dir` into `destination_dir`, keeping names (one level deep)."""
    _makedirs(destination_dir)
    sources = [m.path for m in FileSystems.match([FileSystems.join(source_dir, "*")])[0].metadata_list]
    targets = [FileSystems.join(destination_dir, posixpath.basename(path)) for path in sources]
    if sources:
        FileSystems.rename(sources, targets)


def read_tasks(pattern: str, stride: int = READ_TASKS_PER_FILE) -> list[tuple[str, str, int, int]]:
    """Returns the read tasks of a split: (task key, file, offset, stride), `stride` per file.

    The task key orders the output files, so that a rerun writes the same records in the same order.
    """
    return [
        (f"{n:05d}-{offset:03d}", path, offset, stride)
        for n, path in enumerate(sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list))
        for offset in range(stride)
    ]


class ReadTFRecordFileFn(beam.DoFn):
    """Yields (task, location, record) for every `stride`-th record of a TFRecord file, from `offset`.

    A file is read as `stride` tasks (offsets 0 .. stride-1) so that the runner can spread one
    file's records over several workers: gzip cannot be split, but decompressing is cheap next
    to the upscale. The location ("<file>, record <n>") names records whose id cannot be parsed.
    """

    def process(self, task: tuple[str, str, int, int]) -> Iterator[tuple[str, str, bytes]]:
        key, path, offset, stride = task
        name = posixpath.basename(path)
        for n, record in enumerate(iter_tfrecords(path)):
            if n % stride == offset:
                yield key, f"{name}, record {n}", record


class WriteTFRecordBundleFn(beam.DoFn):
    """Writes each read task's records, in order, to its own gzip TFRecord file in `temp_dir`.

    Yields (task, file) when the bundle finishes: only files of committed bundles reach the output,
    so a retried bundle leaves no duplicate.
    """

    def __init__(self, temp_dir: str):
        self._temp_dir = temp_dir

    def start_bundle(self) -> None:
        self._files: dict[str, tuple[str, object]] = {}

    def process(self, records: list[tuple[str, bytes]]) -> Iterator[tuple[str, str]]:
        for task, record in records:
            if task not in self._files:
                path = FileSystems.join(self._temp_dir, f"{task}-{uuid.uuid4().hex}.gz")
                self._files[task] = (path, FileSystems.create(path, compression_type=CompressionTypes.GZIP))
            beam_private.write_record(self._files[task][1], record)
        yield from ()  # the files are emitted once, when the bundle finishes

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for task, (path, writer) in self._files.items():
            writer.close()
            yield WindowedValue((task, path), MIN_TIMESTAMP, [GlobalWindow()])


def commit_shards(files: list[tuple[str, str]], split_dir: str) -> None:
    """Moves a split's committed files into `split_dir` as data_tfrecord-NNNNN-of-NNNNN.gz, in task order.

    Raises:
        RuntimeError: two committed files for one read task (the runner ran a task twice).
    """
    tasks = [task for task, _ in files]
    if len(set(tasks)) != len(tasks):
        raise RuntimeError(f"{split_dir}: a read task was written twice: {sorted(tasks)}")
    _makedirs(split_dir)
    if not files:  # an empty split is still a split: one empty file
        path = FileSystems.join(split_dir, "data_tfrecord-00000-of-00001.gz")
        FileSystems.create(path, compression_type=CompressionTypes.GZIP).close()
    ordered = [path for _, path in sorted(files)]
    targets = [
        FileSystems.join(split_dir, f"data_tfrecord-{n:05d}-of-{len(files):05d}.gz")
        for n in range(len(files))
    ]
    if ordered:
        FileSystems.rename(ordered, targets)


def write_report(
    per_class: list[tuple[int, list[tuple[str, bytes, str]]]], size: int, interpolation: str, report_dir: str
) -> None:
    """Decodes the sampled originals and writes fidelity.png and fidelity.json into `report_dir`."""
    samples = [
        (int(label), example_id, decode_png(png), split)
        for label, members in per_class
        for example_id, png, split in members
    ]
    write_fidelity_report(samples, size, interpolation, report_dir)


def build_upscale_pipeline(
    pipeline: beam.Pipeline,
    input_patterns: dict[str, str],
    examples_dir: str,
    report_dir: str,
    size: int,
    interpolation: str,
    source_size: int = SOURCE_SIZE,
    samples_per_class: int = SAMPLES_PER_CLASS,
) -> None:
    """Adds to `pipeline` the steps that upscale every split and write the fidelity report.

    Args:
        pipeline: the Beam pipeline (one for all splits).
        input_patterns: split name -> file pattern of its gzip TFRecords.
        examples_dir: receives `Split-<name>/data_tfrecord-*.gz` per split.
        report_dir: receives fidelity.png and fidelity.json.
        size: side of the output images.
        interpolation: a key of `resize.INTERPOLATIONS`.
        source_size: the side every input image must have.
        samples_per_class: originals per class measured in the report.
    """
    all_samples = []
    for split, pattern in sorted(input_patterns.items()):
        temp_dir = FileSystems.join(examples_dir, ".bundles", split)
        _makedirs(temp_dir)
        resized = (
            pipeline
            | f"Files[{split}]" >> beam.Create(read_tasks(pattern))
            | f"Spread[{split}]" >> beam.Reshuffle()
            | f"Read[{split}]" >> beam.ParDo(ReadTFRecordFileFn())
            | f"Batch[{split}]" >> beam.BatchElements(min_batch_size=MIN_BATCH, max_batch_size=MAX_BATCH)
            | f"Resize[{split}]"
            >> beam.ParDo(
                UpscaleBatchFn(split, size, interpolation, source_size, samples_per_class)
            ).with_outputs(SAMPLES_TAG, main="examples")
        )
        _ = (
            resized.examples
            | f"Write[{split}]" >> beam.ParDo(WriteTFRecordBundleFn(temp_dir))
            | f"ListShards[{split}]" >> beam.combiners.ToList()
            | f"Commit[{split}]" >> beam.Map(commit_shards, split_folder(examples_dir, split))
        )
        all_samples.append(resized[SAMPLES_TAG])
    _ = (
        all_samples
        | "Samples[all splits]" >> beam.Flatten()
        | "SmallestIdsPerClass" >> beam.combiners.Top.SmallestPerKey(samples_per_class)
        | "Gather" >> beam.combiners.ToList()
        | "WriteReport" >> beam.Map(write_report, size, interpolation, report_dir)
    )


def upscale_examples(
    make_pipeline: Callable[[], beam.Pipeline],
    input_patterns: dict[str, str],
    output_dir: str,
    report_dir: str,
    size: int,
    interpolation: str,
    source_size: int = SOURCE_SIZE,
    samples_per_class: int = SAMPLES_PER_CLASS,
) -> None:
    """Runs the upscale job; outputs appear in place only if every split and the report succeed.

    Everything is written under `.staging` folders and moved into `output_dir` / `report_dir` at
    the end; on failure the staging folders are removed and the error re-raised.

    Args:
        make_pipeline: returns a fresh Beam pipeline (the executor's, with the pipeline's Beam args).
        input_patterns: split name -> file pattern of its gzip TFRecords.
        output_dir: the output Examples artifact's folder.
        report_dir: the report artifact's folder.
        size: side of the output images.
        interpolation: a key of `resize.INTERPOLATIONS`.
        source_size: the side every input image must have.
        samples_per_class: originals per class measured in the report.

    Raises:
        ValueError: an invalid size or interpolation (before anything runs).
        UpscaleError (possibly wrapped by Beam): bad input, naming the split and the example.
    """
    check_resize(source_size, size, interpolation)
    if not input_patterns:
        raise ValueError("the input Examples artifact has no splits")
    examples_staging = FileSystems.join(output_dir, STAGING)
    report_staging = FileSystems.join(report_dir, STAGING)
    stagings = (examples_staging, report_staging)
    for folder in stagings:
        _remove_tree(folder)
        _makedirs(folder)
    try:
        with make_pipeline() as pipeline:
            build_upscale_pipeline(
                pipeline,
                input_patterns,
                examples_staging,
                report_staging,
                size,
                interpolation,
                source_size,
                samples_per_class,
            )
        for split in input_patterns:
            _move_files(split_folder(examples_staging, split), split_folder(output_dir, split))
        _move_files(report_staging, report_dir)
    finally:
        for folder in stagings:
            _remove_tree(folder)
