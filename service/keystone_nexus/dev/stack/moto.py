"""The AWS stand-in: moto in server mode (real HTTP on loopback) for S3, Glue,
CloudWatch and Secrets Manager, reached through ``endpoint_url`` with dummy
credentials; its readiness probe and the lake bucket and Glue registry it is
provisioned with.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from keystone_nexus.aws.errors import error_code
from keystone_nexus.dev.stack.info import (
    DUMMY_AWS_CREDENTIALS,
    HOST,
    LOG_DIR,
    MOTO,
    MOTO_PACKAGES,
    READY_TIMEOUT,
    DevStackError,
    require_local_packages,
)
from keystone_nexus.dev.stack.process import ManagedProcess, check_alive, not_ready, require_free

__all__ = ["provision_aws", "start_moto", "wait_for_http"]


def start_moto(
    state_dir: Path, port: int, *, wait: bool = True, timeout: float = READY_TIMEOUT
) -> ManagedProcess:
    """Start ``python -m moto.server`` on 127.0.0.1:`port`; by default wait until it
    answers HTTP. The caller owns the process (see
    :func:`~keystone_nexus.dev.stack.start_broker`)."""
    require_local_packages(MOTO_PACKAGES)
    require_free(MOTO, port)
    argv = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    proc = ManagedProcess.spawn(
        MOTO, argv, port=port, log_path=Path(state_dir) / LOG_DIR / "moto.log", env=env
    )
    if wait:
        try:
            wait_for_http(f"http://{HOST}:{port}", timeout=timeout, process=proc)
        except BaseException:
            proc.stop()
            raise
    return proc


def wait_for_http(url: str, *, timeout: float = READY_TIMEOUT, process: ManagedProcess | None = None) -> None:
    """Wait until `url` answers HTTP (any status). With `process`, fail fast if it dies."""
    what = f"HTTP server at {url} not ready"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        check_alive(what, process)
        try:
            with opener.open(url, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
                pass
        except urllib.error.HTTPError:
            pass  # an HTTP answer all the same
        except OSError as exc:
            last = str(exc)
            time.sleep(0.1)
            continue
        check_alive(what, process)
        return
    raise not_ready(what, process, f"no HTTP answer within {timeout:.0f}s ({last})")


# ----------------------------------------------------------------- provisioning


def _aws_client(service: str, endpoint_url: str, region: str) -> Any:
    import boto3  # type: ignore[import-untyped,unused-ignore]

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=DUMMY_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def provision_aws(endpoint_url: str, *, bucket: str, registry_name: str, region: str) -> None:
    """Create the lake bucket and the Glue schema registry (both idempotent)."""
    s3 = _aws_client("s3", endpoint_url, region)
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except Exception as exc:
        if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise DevStackError(f"creating bucket {bucket!r} at {endpoint_url}: {exc}") from exc
    glue = _aws_client("glue", endpoint_url, region)
    try:
        glue.create_registry(RegistryName=registry_name, Description="keystone-nexus local dev stack")
    except Exception as exc:
        if error_code(exc) != "AlreadyExistsException":
            raise DevStackError(f"creating Glue registry {registry_name!r} at {endpoint_url}: {exc}") from exc
