"""An S3 server for the tests: moto's server mode, in memory, on 127.0.0.1, and the clients' settings.

Run as a script (`python tests/s3_server.py --port N --bucket B`); the fixture in
tests/kubeflow/conftest.py starts it as a subprocess, so the pipeline's own threads never starve it.
moto accepts any credentials; the tests give the clients fixed ones, as a MinIO secret would.
"""

from __future__ import annotations

import argparse
import threading

BUCKET = "fashion-tfx-ci"  # the tests' bucket (S3 bucket names take 3 to 63 characters)
REGION = "us-east-1"
ACCESS_KEY_ID = "fashion-tfx-test"
SECRET_ACCESS_KEY = "fashion-tfx-test-secret"


def client_environment(endpoint: str) -> dict[str, str]:
    """Returns the environment variables that point every S3 client of the pipeline at `endpoint`.

    TensorFlow's S3 filesystem (tensorflow-io) reads `S3_ENDPOINT`; boto3 and Beam's S3 filesystem read
    `AWS_ENDPOINT_URL`; all read the region and the credentials from the standard `AWS_*` variables.
    """
    return {
        "S3_ENDPOINT": endpoint,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        # No EC2 metadata service here: the AWS SDKs would wait for it when looking for credentials.
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def bucket_objects(endpoint: str, prefix: str, bucket: str = BUCKET) -> dict[str, int]:
    """Returns key -> size of every object under `prefix` in `bucket` of the server at `endpoint`."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects |= {item["Key"]: item["Size"] for item in page.get("Contents", [])}
    return objects


def main(argv: list[str] | None = None) -> None:
    """Serves S3 on 127.0.0.1:PORT with the named (empty) buckets until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args(argv)

    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{args.port}",
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    for bucket in args.bucket:
        client.create_bucket(Bucket=bucket)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
