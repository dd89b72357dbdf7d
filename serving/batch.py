"""Streaming inputs for batch prediction and embedding: PNG files, PNG folders, TFRecord files of Examples.

Items are read one at a time and grouped into batches, so memory stays bounded whatever the input size.
Each item is either an image or the reason it cannot be used (a bad file inside a folder, a bad example
in a TFRecord file); the caller decides whether that is fatal (`--strict`) or skipped and counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from serving.payloads import PayloadError, image_from_png, load_png_file

TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfrecord.gz", ".tfrecords.gz", ".gz")


@dataclasses.dataclass(frozen=True)
class Item:
    """One input: an image with its id, or the reason it cannot be used.

    Attributes:
        id: a file path, or `<file>[<record>]` / the example's `id` feature for TFRecord examples.
        image: uint8 [28, 28], or None when `error` says why the item is unusable.
        label: the true class id when the input carries one (TFRecord examples with `label`).
        error: one line naming what is wrong, or None.
        png: the PNG bytes the image came from (kept for catalogues that show the picture).
    """

    id: str
    image: np.ndarray | None
    label: int | None = None
    error: str | None = None
    png: bytes | None = None


@dataclasses.dataclass(frozen=True)
class Source:
    """An input given on the command line: a PNG file, a folder of PNGs, or a TFRecord file."""

    path: str
    kind: str  # "png", "folder" or "tfrecord"


def classify_input(path: str) -> Source:
    """Decides what an input path is: a folder, a TFRecord file (by its name) or a PNG file.

    Anything else, missing paths included, counts as a PNG file, whose reading then says what is wrong.
    """
    if os.path.isdir(path):
        return Source(path, "folder")
    name = os.path.basename(path).lower()
    if not name.endswith(".png") and (name.endswith(TFRECORD_SUFFIXES) or "tfrecord" in name):
        return Source(path, "tfrecord")
    return Source(path, "png")


def _folder_entries(folder: str) -> Iterator[os.DirEntry]:
    # Hidden entries (".DS_Store", editors' swap files) are not catalogue items.
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith("."):
                yield entry


def count_items(sources: Sequence[Source]) -> int | None:
    """The number of items, when knowable without reading the files (None if a TFRecord file is given)."""
    if any(source.kind == "tfrecord" for source in sources):
        return None
    # An empty folder is one (unusable) item.
    return sum(max(sum(1 for _ in _folder_entries(s.path)), 1) if s.kind == "folder" else 1 for s in sources)


def _png_item(path: str) -> Item:
    try:
        return Item(id=path, image=load_png_file(path))
    except PayloadError as err:
        return Item(id=path, image=None, error=str(err))


def _tfrecord_items(path: str) -> Iterator[Item]:
    import tensorflow as tf

    from data import examples
    from serving.tfrecords import read_records

    # A damaged frame raises PayloadError: reading cannot go on past it, so it is not a skippable item.
    for index, record in enumerate(read_records(path)):
        name = f"{path}[{index}]"
        example = tf.train.Example()
        try:
            example.ParseFromString(record)
        except Exception as err:  # protobuf raises its own DecodeError type
            yield Item(id=name, image=None, error=f"{name}: not a tf.Example ({err})")
            continue
        features = example.features.feature
        if examples.ID_KEY in features and features[examples.ID_KEY].bytes_list.value:
            name = features[examples.ID_KEY].bytes_list.value[0].decode(errors="replace")
        label = None
        if examples.LABEL_KEY in features and features[examples.LABEL_KEY].int64_list.value:
            label = int(features[examples.LABEL_KEY].int64_list.value[0])
        values = features[examples.IMAGE_KEY].bytes_list.value if examples.IMAGE_KEY in features else []
        if not values:
            yield Item(
                id=name, image=None, label=label, error=f"{name}: no PNG '{examples.IMAGE_KEY}' feature"
            )
            continue
        try:
            image = image_from_png(values[0], name)
        except PayloadError as err:
            yield Item(id=name, image=None, label=label, error=str(err))
            continue
        yield Item(id=name, image=image, label=label, png=values[0])


def iter_items(sources: Iterable[Source]) -> Iterator[Item]:
    """Yields every input item in order: folders in directory order, TFRecord files record by record.

    Raises:
        PayloadError: a TFRecord file is damaged (reading cannot go on past the damage).
    """
    for source in sources:
        if source.kind == "folder":
            found = False
            for entry in _folder_entries(source.path):
                found = True
                yield _png_item(os.path.join(source.path, entry.name))
            if not found:
                named = " named like a PNG file" if source.path.lower().endswith(".png") else ""
                yield Item(
                    id=source.path, image=None, error=f"{source.path}: a folder{named}, with no file in it"
                )
        elif source.kind == "tfrecord":
            yield from _tfrecord_items(source.path)
        else:
            yield _png_item(source.path)


def batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Groups items into lists of at most `size` (bad items travel with the good ones, in order)."""
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def with_png(item: Item) -> bytes:
    """The item's PNG bytes (re-encoded losslessly when it came from a file that was decoded)."""
    if item.png is not None:
        return item.png
    from data.examples import encode_png

    return encode_png(item.image)


@contextlib.contextmanager
def output_failures(path: str | None) -> Iterator[None]:
    """Turns a failed write (a full disk, a read-only folder) into one OutputError naming the output.

    Raises:
        OutputError: writing the output failed; the caller discards its partial files.
    """
    import tensorflow as tf

    from serving.exit_codes import OutputError

    try:
        yield
    except (OSError, tf.errors.OpError) as err:
        detail = getattr(err, "message", None) or getattr(err, "strerror", None) or str(err)
        raise OutputError(f"{path or 'stdout'}: cannot write the output ({detail.splitlines()[0]})") from err


class AtomicOutput:
    """A file written under a temporary name and renamed into place only when complete.

    Works through `tf.io.gfile`, so the destination may be a bucket path. Either `open()` it and write,
    or let another writer write to `partial`; then `commit()`, or `discard()` to leave nothing behind.
    As a context manager it opens, and commits unless an exception leaves the block.
    """

    def __init__(self, path: str, mode: str = "w"):
        import tensorflow as tf

        self._gfile = tf.io.gfile
        self.path = path
        parent = os.path.dirname(path) or "."
        if not self._gfile.isdir(parent):
            raise PayloadError(f"{path}: output folder {parent} does not exist")
        if self._gfile.isdir(path):
            raise PayloadError(f"{path}: is a folder; give an output file")
        self.partial = os.path.join(parent, f".{os.path.basename(path)}.partial-{os.getpid()}")
        self._mode = mode
        self.file = None

    def open(self):
        """Opens the partial file for writing and returns it."""
        self.file = self._gfile.GFile(self.partial, self._mode)
        return self.file

    def commit(self) -> None:
        """Closes the partial file and moves it to the destination."""
        if self.file is not None:
            self.file.close()
        self._gfile.rename(self.partial, self.path, overwrite=True)

    def discard(self) -> None:
        """Closes and removes the partial file, if any (even when closing fails, as on a full disk)."""
        import tensorflow as tf

        try:
            if self.file is not None:
                with contextlib.suppress(OSError, tf.errors.OpError):
                    self.file.close()
        finally:
            self.file = None
            if self._gfile.exists(self.partial):
                self._gfile.remove(self.partial)

    def __enter__(self):
        return self.open()

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.commit()
        else:
            self.discard()
        return False
