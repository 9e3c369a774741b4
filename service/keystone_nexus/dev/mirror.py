"""A local copy of an S3 lake in the stack's moto: its bronze and dead letters, for DuckDB.

DuckDB reads the lake's Parquet from a directory (its S3 extension is not installed here), so
a journey or a local DAG run over an S3 lake copies these two layers down first.
"""

from __future__ import annotations

from pathlib import Path

import boto3

from keystone_nexus.dev.stack import DUMMY_AWS_CREDENTIALS, StackInfo

LAYERS = ("bronze/", "dlq/")


def mirror_lake(stack: StackInfo, lake_uri: str, out: Path) -> int:
    """Copy `lake_uri` (``s3://bucket/prefix`` in the stack's moto) to `out`; returns the
    number of objects copied. Keys keep their place below the prefix."""
    bucket, _, prefix = lake_uri.removeprefix("s3://").partition("/")
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id=DUMMY_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    copied = 0
    for top in LAYERS:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{top}"):
            for obj in page.get("Contents", []):
                target = out / obj["Key"].removeprefix(f"{prefix}/")
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                copied += 1
    return copied
