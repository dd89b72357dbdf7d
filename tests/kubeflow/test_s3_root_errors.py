"""An s3:// root that cannot be used is refused with one `fashion-tfx: error:` line, before any work."""

from __future__ import annotations

import pytest
from bucket_runs import assert_nothing_written_locally, run_on_root
from gcs_emulator import free_port
from s3_server import BUCKET, bucket_objects


def _point_at(environment: dict[str, str], monkeypatch) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    "root, reason",
    [
        ("s3:///runs", "names no bucket"),
        (f"s3://no-such-bucket-{BUCKET}/runs", f"bucket no-such-bucket-{BUCKET} does not exist"),
    ],
)
def test_a_missing_bucket_is_refused(root, reason, s3, tiny_idx_dir, tmp_path, monkeypatch, capsys):
    _point_at(s3.environment, monkeypatch)
    code, lines = run_on_root(root, tiny_idx_dir, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: ") and reason in lines[0], lines
    assert_nothing_written_locally(tmp_path)


def test_an_unreachable_endpoint_is_refused(s3, tiny_idx_dir, tmp_path, monkeypatch, capsys):
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    _point_at({**s3.environment, "AWS_ENDPOINT_URL": nowhere, "S3_ENDPOINT": nowhere}, monkeypatch)
    code, lines = run_on_root(f"s3://{BUCKET}/refused", tiny_idx_dir, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("fashion-tfx: error: "), lines
    assert "the S3 endpoint is unreachable" in lines[0] and f"s3://{BUCKET}/refused" in lines[0]
    assert_nothing_written_locally(tmp_path)


def test_missing_credentials_are_refused(s3, tiny_idx_dir, tmp_path, monkeypatch, capsys):
    _point_at(s3.environment, monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # No credentials file either (the home folder is the test's own).
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    code, lines = run_on_root(f"s3://{BUCKET}/refused", tiny_idx_dir, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert len(lines) == 1 and "no S3 credentials found" in lines[0], lines
    assert_nothing_written_locally(tmp_path)


def test_the_writable_bucket_passes_the_probe_and_keeps_nothing(s3, monkeypatch):

    from pipeline.s3 import check_s3_bucket_writable

    _point_at(s3.environment, monkeypatch)
    check_s3_bucket_writable(f"s3://{BUCKET}/probed/root")
    assert bucket_objects(s3.endpoint, "probed/") == {}
