"""Finding, downloading and verifying the four canonical Fashion-MNIST IDX files."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from data.idx import IdxFormatError, parse_idx_pair, read_bytes

log = logging.getLogger(__name__)

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
# The split each (images, labels) pair feeds: `train` (carved into train and eval) and `test`.
SOURCE_FILES = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}

# SHA-256 of the decompressed content: gzip bytes differ between mirrors, the content does not.
CANONICAL_SHA256 = {
    TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

DATA_DIR_ENV = "FASHION_MNIST_DIR"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DOWNLOAD_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


class DatasetError(RuntimeError):
    """The data set cannot be found, fetched or verified; the message says what to do."""


class ForeignDataError(DatasetError):
    """The files are valid IDX data but not the canonical Fashion-MNIST, and foreign data was not allowed."""


# The command-line flag that allows foreign data (named in the refusal, so the user knows the way on).
ALLOW_FOREIGN_FLAG = "--allow-foreign-data"
# Where each kind of explicit location comes from, as the user wrote it.
ORIGIN_NAMES = {"argument": "--data-dir", "environment": f"${DATA_DIR_ENV}"}


@dataclasses.dataclass(frozen=True)
class DatasetLocation:
    """Where the four files were found and whether they are the canonical Fashion-MNIST.

    Attributes:
        directory: the folder holding the four files (`.gz` or raw).
        origin: `argument`, `environment`, `debian` or `cache`.
        canonical: every file's decompressed SHA-256 matches Fashion-MNIST's.
        fingerprint: one digest over the four files' contents, for pipeline caching.
    """

    directory: Path
    origin: str
    canonical: bool
    fingerprint: str


def default_cache_dir() -> Path:
    """Returns the per-user cache folder the official files are downloaded into."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fashion-tfx" / "fashion-mnist"


def file_path(directory: Path, name: str) -> Path:
    """Returns the path of one of the four files in `directory`, preferring the `.gz` form."""
    gz = directory / f"{name}.gz"
    return gz if gz.exists() or not (directory / name).exists() else directory / name


def _has_all(directory: Path) -> bool:
    return all(file_path(directory, name).is_file() for name in FILES)


def read_contents(directory: Path) -> dict[str, bytes]:
    """Returns each of the four files' decompressed content, read once.

    Verify and parse these same bytes (`verify_contents`, `parse_split_sources`): a file replaced
    between a check that reads it and a parse that reads it again would be ingested unchecked.

    Raises:
        IdxFormatError: a file is missing or is a broken gzip stream.
    """
    return {name: read_bytes(file_path(directory, name)) for name in FILES}


def content_digests(directory: Path) -> dict[str, str]:
    """Returns the SHA-256 of each file's decompressed content.

    Raises:
        IdxFormatError: a file is missing or is a broken gzip stream.
    """
    return {name: hashlib.sha256(content).hexdigest() for name, content in read_contents(directory).items()}


def data_fingerprint(digests: dict[str, str]) -> str:
    """Returns the data fingerprint: one digest over the four files' SHA-256 content digests.

    Args:
        digests: file name (`FILES`) -> hex SHA-256 of its content, as `content_digests` returns.
    """
    return hashlib.sha256("".join(digests[name] for name in FILES).encode()).hexdigest()[:16]


def verify(
    directory: Path, require_canonical: bool, canonical_digests: Mapping[str, str] = CANONICAL_SHA256
) -> tuple[bool, str]:
    """Reads the four files and checks them against the canonical digests (see `verify_contents`)."""
    return verify_contents(directory, read_contents(directory), require_canonical, canonical_digests)


def verify_contents(
    directory: Path,
    contents: dict[str, bytes],
    require_canonical: bool,
    canonical_digests: Mapping[str, str] = CANONICAL_SHA256,
) -> tuple[bool, str]:
    """Checks the four files' contents, as read, against the canonical digests.

    A set where some files match and others do not claims to be Fashion-MNIST but is damaged, so it
    is refused; a set where none match is foreign IDX data (e.g. MNIST digits) and is accepted with a
    warning unless `require_canonical`.

    Args:
        directory: where the contents were read from (named in messages).
        contents: file name -> decompressed content (`read_contents`).
        require_canonical: refuse foreign data too.
        canonical_digests: file name -> the SHA-256 of its content that counts as canonical; the
            published Fashion-MNIST digests unless a test declares its own small set canonical.

    Returns:
        (canonical, fingerprint).

    Raises:
        DatasetError: a mismatch in a set that claims to be canonical.
    """
    digests = {name: hashlib.sha256(contents[name]).hexdigest() for name in FILES}
    mismatched = [name for name in FILES if digests[name] != canonical_digests[name]]
    fingerprint = data_fingerprint(digests)
    if not mismatched:
        return True, fingerprint
    if require_canonical or len(mismatched) < len(FILES):
        details = "; ".join(
            f"{file_path(directory, n)}: SHA-256 of content {digests[n][:12]}…, "
            f"expected {canonical_digests[n][:12]}…"
            for n in mismatched
        )
        cannot_help = (
            f" ({ALLOW_FOREIGN_FLAG} cannot help: {len(FILES) - len(mismatched)} of the four files match, so "
            "the set claims to be Fashion-MNIST and is damaged; foreign data must match none)"
            if not require_canonical
            else ""
        )
        raise DatasetError(f"canonical checksum mismatch: {details}{cannot_help}")
    log.warning(
        "%s holds IDX files that are not the canonical Fashion-MNIST (no checksum matches); "
        "using them as they are, with Fashion-MNIST's class names",
        directory,
    )
    return False, fingerprint


def parse_split_sources(
    directory: Path, contents: dict[str, bytes]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Parses the verified contents into the training and test (images, labels), refusing empty files.

    Raises:
        IdxFormatError: a malformed file, counts that differ, or a file pair holding no image.
    """
    pairs = {}
    for source, (images_name, labels_name) in SOURCE_FILES.items():
        images_path, labels_path = file_path(directory, images_name), file_path(directory, labels_name)
        images, labels = parse_idx_pair(
            contents[images_name], contents[labels_name], str(images_path), str(labels_path)
        )
        if not len(images):
            raise IdxFormatError(
                f"{images_path} and {labels_path} hold no image: the {source} split would be empty"
            )
        pairs[source] = (images, labels)
    return pairs


def describe_provenance(directory: str | Path | None, canonical: bool, fingerprint: str) -> str:
    """Returns one line saying which data a run used, for the run header, the summary and the model card.

    Args:
        directory: the folder the files were read from; None leaves it out (what ships with a model
            names no path of the machine that built it).
        canonical: whether the files match the published SHA-256.
        fingerprint: the digest of the files' content.
    """
    where = f" from {directory}" if directory is not None else ""
    if canonical:
        return f"canonical Fashion-MNIST (all four files match the published SHA-256){where}"
    return (
        f"FOREIGN data{where}: NOT the canonical Fashion-MNIST (no file matches its SHA-256; "
        f"fingerprint {fingerprint}), used because foreign data was explicitly allowed"
    )


def refuse_foreign(directory: str | Path, origin: str) -> ForeignDataError:
    """Returns the one-line refusal of non-canonical data that was not explicitly allowed."""
    where = ORIGIN_NAMES.get(origin, origin)
    return ForeignDataError(
        f"{directory} (from {where}) is not the canonical Fashion-MNIST: none of its four files matches "
        f"the published SHA-256, so neither its images nor its labels can be trusted; pass "
        f"{ALLOW_FOREIGN_FLAG} to train on it anyway (its model is blessed only if it also passes the "
        "canonical golden set)"
    )


def _progress(name: str, done: int, total: int) -> None:
    if not sys.stderr.isatty() and done < total:
        return
    share = f"{100 * done / total:5.1f}%" if total else f"{done / 1e6:.1f} MB"
    sys.stderr.write(f"\r  downloading {name}: {share}")
    if total and done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def download(directory: Path, base_url: str = DOWNLOAD_URL, retries: int = 4, timeout: float = 30.0) -> None:
    """Downloads whichever of the four official `.gz` files are missing from `directory`.

    Each file is written to a temporary name and renamed only when complete, so an interrupted
    download never leaves a truncated file behind.

    Raises:
        DatasetError: a file could not be fetched after `retries` attempts.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        target = directory / f"{name}.gz"
        if target.exists():
            continue
        url = f"{base_url.rstrip('/')}/{name}.gz"
        partial = target.with_suffix(".gz.part")
        for attempt in range(1, retries + 1):
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
                    total = int(response.headers.get("Content-Length") or 0)
                    done = 0
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        done += len(chunk)
                        _progress(name, done, total)
                partial.replace(target)
                break
            except (urllib.error.URLError, OSError, TimeoutError) as err:
                partial.unlink(missing_ok=True)
                if attempt == retries:
                    raise DatasetError(
                        f"could not download {url} after {retries} attempts ({err}); install the Debian "
                        f"package dataset-fashion-mnist, or pass --data-dir / set {DATA_DIR_ENV}"
                    ) from err
                wait = 2**attempt
                log.warning("download of %s failed (%s); retrying in %ss", url, err, wait)
                time.sleep(wait)


def locate(
    data_dir: str | Path | None = None,
    *,
    allow_foreign: bool = False,
    allow_download: bool = True,
    cache_dir: Path | None = None,
    debian_dir: Path = DEBIAN_DIR,
    base_url: str = DOWNLOAD_URL,
    canonical_digests: Mapping[str, str] = CANONICAL_SHA256,
) -> DatasetLocation:
    """Finds the four files: `data_dir`, then $FASHION_MNIST_DIR, the Debian package, the user cache.

    Files given by the user may be other IDX data of the same format only if `allow_foreign`; files
    in the Debian folder or the cache must be the canonical set.

    Args:
        data_dir: the folder the user named (`--data-dir`), tried first.
        allow_foreign: accept IDX files from `data_dir` or $FASHION_MNIST_DIR that are not Fashion-MNIST.
        allow_download: download the official files into the cache when no copy is found.
        cache_dir: the user cache (default: `default_cache_dir()`).
        debian_dir: the Debian package's folder.
        base_url: where the official files are downloaded from.
        canonical_digests: what counts as canonical (see `verify_contents`).

    Raises:
        ForeignDataError: valid IDX files that are not the canonical set, and `allow_foreign` is off.
        DatasetError: the files are missing, broken or fail verification.
    """
    if data_dir is not None and not str(data_dir).strip():
        # Path("") is the current folder; an empty --data-dir must not quietly fall back to another copy.
        raise DatasetError(
            f"{ORIGIN_NAMES['argument']} is empty ({str(data_dir)!r}): name the folder of the four IDX files"
        )
    explicit = [(data_dir, "argument"), (os.environ.get(DATA_DIR_ENV), "environment")]
    for value, origin in explicit:
        if not value:
            continue
        directory = Path(value).expanduser()
        if not directory.is_dir():
            raise DatasetError(f"data directory {directory} (from the {origin}) does not exist")
        missing = [str(file_path(directory, n)) for n in FILES if not file_path(directory, n).is_file()]
        if missing:
            raise DatasetError(f"data directory {directory} is missing: {', '.join(missing)}")
        location = _verified(directory, origin, False, canonical_digests)
        if not location.canonical and not allow_foreign:
            raise refuse_foreign(directory, origin)
        return location
    if _has_all(debian_dir):
        return _verified(debian_dir, "debian", True, canonical_digests)
    cache = cache_dir or default_cache_dir()
    if not _has_all(cache):
        if not allow_download:
            raise DatasetError(
                f"Fashion-MNIST not found in {debian_dir} or {cache}; pass --data-dir, set "
                f"{DATA_DIR_ENV}, or install the Debian package dataset-fashion-mnist"
            )
        download(cache, base_url=base_url)
    return _verified(cache, "cache", True, canonical_digests)


def _verified(
    directory: Path, origin: str, require_canonical: bool, canonical_digests: Mapping[str, str]
) -> DatasetLocation:
    try:
        contents = read_contents(directory)
        canonical, fingerprint = verify_contents(directory, contents, require_canonical, canonical_digests)
        if not canonical:
            # Foreign data is parsed here too, so malformed or empty files (wrong magic, counts, labels)
            # are refused with one clear message before a pipeline starts, not inside ExampleGen.
            parse_split_sources(directory, contents)
    except IdxFormatError as err:
        raise DatasetError(str(err)) from err
    return DatasetLocation(directory, origin, canonical, fingerprint)
