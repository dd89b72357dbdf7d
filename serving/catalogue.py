"""Embedding catalogues: stream embeddings to .npy or Parquet, find an image's nearest items, draw them.

A Parquet catalogue (an index) holds, per item, its id, its true class when known, its 28×28 PNG and
its embedding, plus the fingerprint of the SavedModel that embedded it: embeddings of two model versions
are not comparable, so `similar` refuses an index made by another model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from serving.batch import AtomicOutput
from serving.options import MAX_GRID_PANELS
from serving.payloads import PayloadError, image_from_png

EMBEDDING_FORMATS = ("npy", "parquet")
MODEL_FINGERPRINT_KEY = b"fashion_tfx.model_fingerprint"
MODEL_PATH_KEY = b"fashion_tfx.model_path"
INDEX_COLUMNS = ("id", "label", "image_png", "embedding")
# Budgets of `similar`: a catalogue is read whole into memory, and each neighbour is a panel of the grid.
MAX_INDEX_VALUES = 1 << 26  # embedding values (256 MB as float32): 500,000 items of width 128
MAX_EMBEDDING_WIDTH = 4096


def model_fingerprint(model_dir: str) -> str:
    """The SavedModel's own fingerprint (graph and weights), as TensorFlow records it at export."""
    import tensorflow as tf

    try:
        return tf.saved_model.experimental.read_fingerprint(str(model_dir)).singleprint()
    except (ValueError, OSError, tf.errors.OpError):
        return "unknown"


def embedding_format(path: str) -> str:
    """`npy` or `parquet`, from the output file's extension.

    Raises:
        PayloadError: any other extension.
    """
    lower = path.lower()
    if lower.endswith(".npy"):
        return "npy"
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    raise PayloadError(f"{path}: give a .npy or .parquet output file for the embeddings")


class EmbeddingWriter:
    """Streams embeddings into a .npy file (plus `<name>.ids.txt`) or a Parquet catalogue, atomically.

    Nothing appears at the output path unless `commit()` is called; `abort()` removes the partial files.
    """

    def __init__(self, path: str, model_dir: str):
        self.path = path
        self.form = embedding_format(path)
        self.model_dir = str(model_dir)
        self.rows = 0
        self.width: int | None = None
        self._output = AtomicOutput(path, "wb")
        self._ids = AtomicOutput(ids_path(path), "w") if self.form == "npy" else None
        self._parquet = None
        self._sink: _GFileSink | None = None
        if self.form == "npy":
            # Raw float32 rows first; the .npy header needs the row count, known only at the end.
            self._rows = AtomicOutput(self._output.partial + ".rows", "wb")
            self._rows.open()
            self._ids.open()
        else:
            self._output.open()

    def write(self, items: Sequence, embeddings: np.ndarray) -> None:
        """Appends one batch: items (`batch.Item`) and their embeddings [n, D].

        Raises:
            PayloadError: the embedding width changed between batches.
        """
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if self.width is None:
            self.width = embeddings.shape[1]
        elif embeddings.shape[1] != self.width:
            raise PayloadError(f"embedding width changed from {self.width} to {embeddings.shape[1]}")
        if self.form == "npy":
            self._rows.file.write(embeddings.tobytes())
            for item in items:
                self._ids.file.write(item.id.replace("\n", " ") + "\n")
        else:
            self._write_parquet(items, embeddings)
        self.rows += len(items)

    def _write_parquet(self, items: Sequence, embeddings: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from serving.batch import with_png

        table = pa.table(
            {
                "id": pa.array([item.id for item in items], pa.string()),
                "label": pa.array([item.label for item in items], pa.int64()),
                "image_png": pa.array([with_png(item) for item in items], pa.binary()),
                "embedding": pa.FixedSizeListArray.from_arrays(
                    pa.array(embeddings.reshape(-1), pa.float32()), embeddings.shape[1]
                ),
            }
        )
        if self._parquet is None:
            metadata = {
                MODEL_FINGERPRINT_KEY: model_fingerprint(self.model_dir).encode(),
                MODEL_PATH_KEY: self.model_dir.encode(),
            }
            self._sink = _GFileSink(self._output.file)
            self._parquet = pq.ParquetWriter(
                pa.PythonFile(self._sink, mode="w"), table.schema.with_metadata(metadata)
            )
        self._parquet.write_table(table)  # one row group per batch: bounded memory

    def commit(self) -> None:
        """Finishes the file(s) and moves them into place."""
        if self.form == "npy":
            self._rows.file.close()
            out = self._output.open()
            # Header, then the rows copied in chunks (never the whole array in memory).
            np.lib.format.write_array_header_1_0(
                out, {"descr": "<f4", "fortran_order": False, "shape": (self.rows, self.width or 0)}
            )
            import tensorflow as tf

            with tf.io.gfile.GFile(self._rows.partial, "rb") as rows:
                while chunk := rows.read(1 << 22):
                    out.write(chunk)
            self._rows.discard()
            self._ids.commit()
        else:
            self._parquet.close()
        self._output.commit()

    def abort(self) -> None:
        """Removes the partial output(s), even when finishing the Parquet file fails (a full disk)."""
        import pyarrow as pa
        import tensorflow as tf

        try:
            if self._parquet is not None:
                with contextlib.suppress(OSError, pa.ArrowException, tf.errors.OpError):
                    self._parquet.close()
        finally:
            # A GFile written after closing opens the file again: the sink refuses any later write
            # (pyarrow's writer retries its footer when it is collected).
            if self._sink is not None:
                self._sink.closed = True
            self._parquet = None
            for output in (self._output, self._ids, getattr(self, "_rows", None)):
                if output is not None:
                    output.discard()


class _GFileSink:
    """The file-object surface pyarrow checks (`closed`, `writable`), over a `tf.io.gfile.GFile`."""

    def __init__(self, gfile):
        self._gfile = gfile
        self.closed = False

    def write(self, data) -> int:
        if self.closed:
            raise OSError("write to a closed catalogue file")
        self._gfile.write(bytes(data))
        return len(data)

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._gfile.tell()

    def flush(self) -> None:
        self._gfile.flush()

    def close(self) -> None:
        self.closed = True  # the GFile itself is closed by AtomicOutput.commit()


def ids_path(npy_path: str) -> str:
    """The ids file beside a .npy embeddings file: `x.npy` -> `x.ids.txt` (one id per row, in order)."""
    return npy_path[: -len(".npy")] + ".ids.txt"


@dataclasses.dataclass(frozen=True)
class Neighbour:
    """One catalogue item near the query."""

    rank: int
    id: str
    label: int | None
    similarity: float
    png: bytes


def _check_index_schema(path: str, schema, rows: int) -> int:
    """Checks a catalogue's columns, types and size budget from its footer alone; returns the width.

    Raises:
        PayloadError: a missing column, a column of another type, or more values than the budget.
    """
    import pyarrow as pa

    missing = set(INDEX_COLUMNS) - set(schema.names)
    if missing:
        raise PayloadError(
            f"{path}: not a catalogue of `fashion-tfx embed` (lacks {', '.join(sorted(missing))})"
        )
    types = {name: schema.field(name).type for name in INDEX_COLUMNS}
    expected = {
        "id": (pa.types.is_string(types["id"]) or pa.types.is_large_string(types["id"]), "strings"),
        "label": (pa.types.is_integer(types["label"]), "integers (class ids)"),
        "image_png": (
            pa.types.is_binary(types["image_png"]) or pa.types.is_large_binary(types["image_png"]),
            "binary PNG pictures",
        ),
        "embedding": (
            pa.types.is_fixed_size_list(types["embedding"])
            and pa.types.is_floating(types["embedding"].value_type),
            "fixed-width lists of floats",
        ),
    }
    for name, (fits, what) in expected.items():
        if not fits:
            raise PayloadError(
                f"{path}: column {name!r} holds {types[name]}; a catalogue's {name} are {what}"
            )
    width = types["embedding"].list_size
    if not 1 <= width <= MAX_EMBEDDING_WIDTH or rows * width > MAX_INDEX_VALUES:
        raise PayloadError(
            f"{path}: {rows} embeddings of width {width} exceed the budget of {MAX_INDEX_VALUES} values "
            f"(width at most {MAX_EMBEDDING_WIDTH})"
        )
    return width


def read_index(path: str):
    """Opens a Parquet catalogue written by `fashion-tfx embed`, checking it against the catalogue schema.

    The schema and the size are checked from the file's footer before any column is read.

    Returns:
        (pyarrow Table of id, label and embedding (no pictures), its schema metadata).

    Raises:
        PayloadError: not a readable Parquet catalogue, another schema, over budget, or empty.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.lower().endswith((".parquet", ".pq")):
        raise PayloadError(f"{path}: the index must be a Parquet catalogue written by `fashion-tfx embed`")
    if not os.path.isfile(path):
        raise PayloadError(f"{path}: no such index file")
    try:
        footer = pq.read_metadata(path)
        schema = footer.schema.to_arrow_schema()
        _check_index_schema(path, schema, footer.num_rows)
        table = pq.read_table(path, columns=["id", "label", "embedding"])
    except (pa.ArrowException, OSError) as err:
        raise PayloadError(f"{path}: unreadable Parquet file ({str(err).splitlines()[0]})") from err
    if table.num_rows == 0:
        raise PayloadError(f"{path}: the index is empty")
    if table.column("embedding").null_count:
        raise PayloadError(f"{path}: {table.column('embedding').null_count} items have no embedding")
    return table, schema.metadata or {}


def usable_embeddings(matrix: np.ndarray) -> np.ndarray:
    """Which rows can be compared by cosine similarity: finite, and not all zero (bool [N])."""
    return np.isfinite(matrix).all(axis=1) & (np.abs(matrix).sum(axis=1) > 0)


def nearest(index_path: str, query: np.ndarray, k: int, model_dir: str) -> tuple[list[Neighbour], int]:
    """The k catalogue items whose embeddings are nearest to `query` [D] by cosine similarity.

    Items whose embedding is not finite or all zero cannot be ranked and are left out; each neighbour's
    picture passes the PNG checks of served inputs before it is returned.

    Returns:
        (the neighbours, nearest first; how many items were left out for their embeddings).

    Raises:
        PayloadError: an unusable index, one made by another model, of another width, with no usable
            embedding, or a neighbour whose picture is not a 28x28 PNG.
        ServingError: the query's own embedding is not finite or all zero (the model failed).
    """
    import pyarrow.parquet as pq

    from serving.signatures import ServingError

    table, metadata = read_index(index_path)
    made_by = metadata.get(MODEL_FINGERPRINT_KEY, b"").decode(errors="replace")
    ours = model_fingerprint(model_dir)
    maker = metadata.get(MODEL_PATH_KEY, b"?").decode(errors="replace")
    if made_by and ours != "unknown" and made_by != ours:
        raise PayloadError(
            f"{index_path}: made by another model ({maker}); "
            f"embeddings of {model_dir} are not comparable: rebuild it with `fashion-tfx embed`"
        )
    column = table.column("embedding").combine_chunks()
    width = column.type.list_size
    if width != len(query):
        raise PayloadError(f"{index_path}: embeddings of width {width}; the model gives {len(query)}")
    if not usable_embeddings(np.asarray(query, np.float64)[None])[0]:
        raise ServingError(f"{model_dir}: the query's embedding is not finite or all zero")
    matrix = column.flatten().to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, width)
    usable = usable_embeddings(matrix)
    if not usable.any():
        raise PayloadError(
            f"{index_path}: none of its {len(matrix)} embeddings is usable (all are NaN, infinite or zero)"
        )
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        similarity = np.where(usable, matrix @ query / np.where(usable, norms, 1.0), -np.inf)
    k = min(k, int(usable.sum()))
    top = np.argpartition(-similarity, k - 1)[:k]
    top = top[np.argsort(-similarity[top], kind="stable")]
    pictures = pq.read_table(index_path, columns=["image_png"]).column("image_png").take(top).to_pylist()
    ids, labels = table.column("id").take(top).to_pylist(), table.column("label").take(top).to_pylist()
    for row, item_id, picture in zip(top, ids, pictures, strict=True):
        image_from_png(picture or b"", f"{index_path}: item {int(row)} ({item_id})")
    neighbours = [
        Neighbour(
            rank=r + 1, id=str(ids[r]), label=labels[r], similarity=float(similarity[i]), png=pictures[r]
        )
        for r, i in enumerate(top)
    ]
    return neighbours, int((~usable).sum())


UNLABELLED = "unlabelled"  # a catalogue item embedded without a label (a folder of PNGs, say)
GRID_ID_CHARACTERS = 20  # an id longer than this shows its tail, where file names and indices differ


def label_name(label: int | None) -> str:
    """A catalogue item's class name, or `unlabelled`: the one wording of the grid and the text output."""
    from data.classes import CLASS_NAMES

    return CLASS_NAMES[label] if label is not None and 0 <= label < len(CLASS_NAMES) else UNLABELLED


def short_id(item_id: str) -> str:
    """An item id that fits under a grid panel: its last characters, marked `…` when cut."""
    return item_id if len(item_id) <= GRID_ID_CHARACTERS else "…" + item_id[-(GRID_ID_CHARACTERS - 1) :]


def draw_grid(query: np.ndarray, query_title: str, neighbours: Sequence[Neighbour], path: str) -> None:
    """Saves a one-row picture: the query, then each neighbour with its rank, class, id and similarity.

    At most `MAX_GRID_PANELS` neighbours are drawn (the nearest); each picture passes the PNG checks.
    """
    from data.plots import save_png, subplots

    neighbours = neighbours[:MAX_GRID_PANELS]
    fig, axes = subplots(1, len(neighbours) + 1, figsize=(1.9 * (len(neighbours) + 1), 2.8), squeeze=False)
    panels = [(query, f"query\n{query_title}", "tab:blue")]
    for n in neighbours:
        title = f"#{n.rank} {label_name(n.label)}\n{short_id(n.id)}\ncos {n.similarity:.3f}"
        panels.append((image_from_png(n.png, n.id), title, "black"))
    for ax, (image, title, colour) in zip(axes[0], panels, strict=True):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=9, color=colour)
        ax.set_xticks([])
        ax.set_yticks([])
    save_png(fig, path)
