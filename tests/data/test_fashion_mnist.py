"""Finding, downloading and verifying the data set files."""

from __future__ import annotations

import logging
import shutil

import pytest
from support import write_idx_set

from data import fashion_mnist as fm


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(fm.DATA_DIR_ENV, raising=False)


def _as_canonical(directory) -> dict:
    """The `locate` arguments that declare the fixture set canonical (its own digests are expected)."""
    return {"canonical_digests": fm.content_digests(directory)}


def test_explicit_foreign_data_is_refused_unless_allowed(tiny_idx_dir, monkeypatch):
    with pytest.raises(fm.ForeignDataError, match=r"\(from --data-dir\) is not the canonical Fashion-MNIST"):
        fm.locate(tiny_idx_dir, allow_download=False)
    monkeypatch.setenv(fm.DATA_DIR_ENV, str(tiny_idx_dir))
    with pytest.raises(fm.ForeignDataError, match=r"\(from \$FASHION_MNIST_DIR\) .*--allow-foreign-data"):
        fm.locate(None, allow_download=False)


def test_explicit_foreign_data_is_accepted_when_allowed(tiny_idx_dir, caplog):
    with caplog.at_level(logging.WARNING):
        location = fm.locate(tiny_idx_dir, allow_foreign=True, allow_download=False)
    assert location.origin == "argument" and not location.canonical
    assert "not the canonical Fashion-MNIST" in caplog.text
    description = fm.describe_provenance(location.directory, location.canonical, location.fingerprint)
    assert description.startswith("FOREIGN data") and location.fingerprint in description


def test_canonical_set_is_recognised(tiny_idx_dir):
    location = fm.locate(tiny_idx_dir, allow_download=False, **_as_canonical(tiny_idx_dir))
    assert location.canonical and len(location.fingerprint) == 16


def test_partly_matching_set_is_a_checksum_mismatch(tiny_idx_dir, tmp_path):
    canonical = _as_canonical(tiny_idx_dir)
    other = write_idx_set(tmp_path / "other", seed=99)
    shutil.copy(other / f"{fm.TEST_IMAGES}.gz", tiny_idx_dir / f"{fm.TEST_IMAGES}.gz")
    with pytest.raises(fm.DatasetError, match=r"canonical checksum mismatch: .*t10k-images-idx3-ubyte\.gz"):
        fm.locate(tiny_idx_dir, allow_download=False, **canonical)


def test_managed_locations_must_be_canonical(tiny_idx_dir, tmp_path):
    with pytest.raises(fm.DatasetError, match="canonical checksum mismatch"):
        fm.locate(None, allow_download=False, debian_dir=tiny_idx_dir, cache_dir=tmp_path / "cache")


def test_search_order_argument_environment_debian_cache(tiny_idx_dir, tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    shutil.copytree(tiny_idx_dir, debian)
    cache = tmp_path / "cache"
    shutil.copytree(tiny_idx_dir, cache)
    kwargs = dict(allow_download=False, debian_dir=debian, cache_dir=cache, **_as_canonical(tiny_idx_dir))
    assert fm.locate(None, **kwargs).origin == "debian"
    monkeypatch.setenv(fm.DATA_DIR_ENV, str(tiny_idx_dir))
    assert fm.locate(None, **kwargs).origin == "environment"
    assert fm.locate(tiny_idx_dir, **kwargs).origin == "argument"
    monkeypatch.delenv(fm.DATA_DIR_ENV)
    shutil.rmtree(debian)
    assert fm.locate(None, **kwargs).origin == "cache"


def test_missing_files_are_named(tiny_idx_dir):
    (tiny_idx_dir / f"{fm.TRAIN_LABELS}.gz").unlink()
    with pytest.raises(fm.DatasetError, match=r"is missing: .*train-labels-idx1-ubyte"):
        fm.locate(tiny_idx_dir, allow_download=False)


def test_download_into_cache_then_verify(tiny_idx_dir, tmp_path):
    cache = tmp_path / "cache"
    location = fm.locate(
        None,
        debian_dir=tmp_path / "absent",
        cache_dir=cache,
        base_url=tiny_idx_dir.as_uri(),
        **_as_canonical(tiny_idx_dir),
    )
    assert location.origin == "cache" and location.canonical
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in fm.FILES)


def test_failed_download_leaves_no_partial_file(tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(fm.DatasetError, match="could not download .* after 1 attempts"):
        fm.download(cache, base_url=(tmp_path / "no-such-mirror").as_uri(), retries=1)
    assert list(cache.iterdir()) == []
