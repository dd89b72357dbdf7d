"""A bucket root that cannot be used is refused with one `fashion-tfx: error:` line, before any work."""

from __future__ import annotations

import pytest
from bucket_runs import assert_nothing_written_locally, run_on_root
from gcs_emulator import BUCKET, READ_ONLY_BUCKET, free_port


def _bucket_objects(endpoint: str, bucket: str) -> list[str]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="fashion-tfx-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
    return [blob.name for blob in client.list_blobs(bucket, prefix="refused/")]


@pytest.mark.parametrize(
    "root, reason",
    [
        ("ftp://fashion-tfx/runs", "has an unknown scheme ftp://"),
        ("hdfs://namenode/runs", "has an unknown scheme hdfs://"),
        ("gs:///runs", "names no bucket"),
    ],
)
def test_a_root_the_pipeline_cannot_write_is_refused(
    root, reason, tiny_idx_dir, tmp_path, monkeypatch, capsys
):
    code, lines = run_on_root(root, tiny_idx_dir, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: ") and reason in lines[0], lines
    assert_nothing_written_locally(tmp_path)


def test_an_unreachable_storage_service_is_refused(tiny_idx_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{free_port()}")  # nothing listens
    code, lines = run_on_root(f"gs://{BUCKET}/refused", tiny_idx_dir, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: "), lines
    assert "the storage service is unreachable" in lines[0] and f"gs://{BUCKET}/refused" in lines[0]
    assert_nothing_written_locally(tmp_path)


@pytest.mark.parametrize(
    "bucket, reason",
    [
        ("no-such-bucket", "bucket no-such-bucket does not exist"),
        (READ_ONLY_BUCKET, f"is not writable: no write access to bucket {READ_ONLY_BUCKET}"),
    ],
)
def test_a_missing_or_read_only_bucket_is_refused(
    bucket, reason, gcs_emulator, tiny_idx_dir, tmp_path, monkeypatch, capsys
):
    for name, value in gcs_emulator.environment.items():
        monkeypatch.setenv(name, value)
    code, lines = run_on_root(f"gs://{bucket}/refused", tiny_idx_dir, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: ") and reason in lines[0], lines
    assert_nothing_written_locally(tmp_path)
    if bucket == READ_ONLY_BUCKET:
        assert _bucket_objects(gcs_emulator.endpoint, bucket) == []


def test_the_writable_bucket_passes_the_probe_and_keeps_nothing(gcs_emulator, monkeypatch):
    from pipeline.storage import check_bucket_writable

    for name, value in gcs_emulator.environment.items():
        monkeypatch.setenv(name, value)
    check_bucket_writable(f"gs://{BUCKET}/refused/probe")
    assert _bucket_objects(gcs_emulator.endpoint, BUCKET) == []
