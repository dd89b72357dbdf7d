"""Fixtures for the bucket tests: a GCS emulator and an S3 server on 127.0.0.1, each in its own process."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import s3_server
from gcs_emulator import BUCKET, READ_ONLY_BUCKET, client_environment, free_port


@dataclasses.dataclass(frozen=True)
class Emulator:
    """A running emulator: its endpoint and the environment that points every client at it."""

    endpoint: str

    @property
    def environment(self) -> dict[str, str]:
        return client_environment(self.endpoint)


@pytest.fixture(scope="session")
def gcs_emulator() -> Emulator:
    """gcp-storage-emulator (in memory) in its own process, so the pipeline's threads never starve it."""
    port = free_port()
    script = Path(__file__).resolve().parents[1] / "gcs_emulator.py"
    command = [sys.executable, str(script), "--port", str(port), "--bucket", BUCKET]
    process = subprocess.Popen(
        [*command, "--read-only-bucket", READ_ONLY_BUCKET], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the GCS emulator did not start: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield Emulator(endpoint)
    process.kill()
    process.wait(timeout=30)


@dataclasses.dataclass(frozen=True)
class S3Server:
    """A running S3 server: its endpoint and the environment that points every S3 client at it."""

    endpoint: str

    @property
    def environment(self) -> dict[str, str]:
        return s3_server.client_environment(self.endpoint)


@pytest.fixture(scope="session")
def s3() -> S3Server:
    """moto's S3 server (in memory) with the bucket s3_server.BUCKET, in its own process."""
    port = free_port()
    script = Path(__file__).resolve().parents[1] / "s3_server.py"
    # Its output goes to a file, not a pipe: a full pipe would stall the server.
    errors = tempfile.TemporaryFile()  # noqa: SIM115  (open for the whole session, closed below)
    process = subprocess.Popen(
        [sys.executable, str(script), "--port", str(port), "--bucket", s3_server.BUCKET],
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    ready = process.stdout.readline() if process.stdout else ""
    if ready.strip() != "ready":
        process.kill()
        process.wait(timeout=30)
        errors.seek(0)
        pytest.fail(f"the S3 server did not start: {errors.read().decode()[-2000:]}")
    yield S3Server(f"http://127.0.0.1:{port}")
    process.kill()
    process.wait(timeout=30)
    errors.close()
