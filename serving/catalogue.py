"""Embedding catalogues: stream embeddings to .npy or Parquet, find an image's nearest items, draw them.

A Parquet catalogue (an index) holds, per item, its id, its true class when known, its 28×28 PNG and
its embedding, plus the fingerprint of the SavedModel that embedded it: embeddings of two model versions
are not comparable, so `similar` refuses an index made by another model.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np

from serving.batch import AtomicOutput
from serving.payloads import PayloadError

EMBEDDING_FORMATS = ("npy", "parquet")
MODEL_FINGERPRINT_KEY = b"fashion_tfx.model_fingerprint"
MODEL_PATH_KEY = b"fashion_tfx.model_path"


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
            sink = pa.PythonFile(_GFileSink(self._output.file), mode="w")
            self._parquet = pq.ParquetWriter(sink, table.schema.with_metadata(metadata))
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
        """Removes the partial output(s)."""
        if self._parquet is not None:
            self._parquet.close()
        for output in (self._output, self._ids, getattr(self, "_rows", None)):
            if output is not None:
                output.discard()


class _GFileSink:
    """The file-object surface pyarrow checks (`closed`, `writable`), over a `tf.io.gfile.GFile`."""

    def __init__(self, gfile):
        self._gfile = gfile
        self.closed = False

    def write(self, data) -> int:
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


def read_index(path: str):
    """Opens a Parquet catalogue written by `fashion-tfx embed`.

    Returns:
        (pyarrow Table without the pictures, its schema metadata).

    Raises:
        PayloadError: not a readable Parquet catalogue.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.lower().endswith((".parquet", ".pq")):
        raise PayloadError(f"{path}: the index must be a Parquet catalogue written by `fashion-tfx embed`")
    if not os.path.isfile(path):
        raise PayloadError(f"{path}: no such index file")
    try:
        schema = pq.read_schema(path)
        missing = {"id", "label", "embedding", "image_png"} - set(schema.names)
        if missing:
            raise PayloadError(
                f"{path}: not a catalogue of `fashion-tfx embed` (lacks {', '.join(sorted(missing))})"
            )
        table = pq.read_table(path, columns=["id", "label", "embedding"])
    except (pa.ArrowException, OSError) as err:
        raise PayloadError(f"{path}: unreadable Parquet file ({err})") from err
    if table.num_rows == 0:
        raise PayloadError(f"{path}: the index is empty")
    return table, schema.metadata or {}


def nearest(index_path: str, query: np.ndarray, k: int, model_dir: str) -> list[Neighbour]:
    """The k catalogue items whose embeddings are nearest to `query` [D] by cosine similarity.

    Raises:
        PayloadError: an unusable index, one made by another model, or of another width.
    """
    import pyarrow.parquet as pq

    table, metadata = read_index(index_path)
    made_by = metadata.get(MODEL_FINGERPRINT_KEY, b"").decode()
    ours = model_fingerprint(model_dir)
    if made_by and ours != "unknown" and made_by != ours:
        raise PayloadError(
            f"{index_path}: made by another model ({metadata.get(MODEL_PATH_KEY, b'?').decode()}); "
            f"embeddings of {model_dir} are not comparable: rebuild it with `fashion-tfx embed`"
        )
    column = table.column("embedding").combine_chunks()
    width = column.type.list_size
    if width != len(query):
        raise PayloadError(f"{index_path}: embeddings of width {width}; the model gives {len(query)}")
    matrix = column.values.to_numpy().reshape(-1, width)
    norms = np.linalg.norm(matrix, axis=1) * max(np.linalg.norm(query), 1e-12)
    similarity = matrix @ query / np.maximum(norms, 1e-12)
    k = min(k, len(similarity))
    top = np.argpartition(-similarity, k - 1)[:k]
    top = top[np.argsort(-similarity[top], kind="stable")]
    pictures = pq.read_table(index_path, columns=["image_png"]).column("image_png").take(top).to_pylist()
    ids, labels = table.column("id").take(top).to_pylist(), table.column("label").take(top).to_pylist()
    return [
        Neighbour(rank=r + 1, id=ids[r], label=labels[r], similarity=float(similarity[i]), png=pictures[r])
        for r, i in enumerate(top)
    ]


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
    """Saves a one-row picture: the query, then each neighbour with its rank, class, id and similarity."""
    from data.examples import decode_png
    from models.plots import save_png, subplots

    fig, axes = subplots(1, len(neighbours) + 1, figsize=(1.9 * (len(neighbours) + 1), 2.8), squeeze=False)
    panels = [(query, f"query\n{query_title}", "tab:blue")]
    for n in neighbours:
        title = f"#{n.rank} {label_name(n.label)}\n{short_id(n.id)}\ncos {n.similarity:.3f}"
        panels.append((decode_png(n.png), title, "black"))
    for ax, (image, title, colour) in zip(axes[0], panels, strict=True):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(title, fontsize=9, color=colour)
        ax.set_xticks([])
        ax.set_yticks([])
    save_png(fig, path)
