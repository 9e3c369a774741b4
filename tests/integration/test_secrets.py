"""Settings resolved from moto's Secrets Manager; the values never reach the logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from pydantic import SecretStr

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.aws.secrets import resolve_secrets
from keystone_nexus.config import load_settings
from keystone_nexus.dev import stack as devstack
from keystone_nexus.errors import ConfigError
from tests.dashboardkit import dashboard_about
from tests.integration.sinkkit import Broker, sink_env

pytestmark = pytest.mark.integration

PASSWORD = f"pw-{uuid.uuid4().hex}"


@pytest.fixture
def secret(stack, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    name = f"msk/{uuid.uuid4().hex[:8]}"
    sm = boto3.client(
        "secretsmanager",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sm.create_secret(Name=name, SecretString=f'{{"username": "nexus", "password": "{PASSWORD}"}}')
    return name


async def test_references_resolve_typed(stack, secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("NEXUS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("NEXUS_KAFKA__SASL_USERNAME", f"aws-secretsmanager:{secret}#username")
    monkeypatch.setenv("NEXUS_KAFKA__SASL_PASSWORD", f"aws-secretsmanager:{secret}#password")
    settings = load_settings(env_file=None)
    options = AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)
    resolved = await resolve_secrets(settings, options)
    assert resolved.kafka.sasl_username == "nexus"
    assert isinstance(resolved.kafka.sasl_password, SecretStr)
    assert resolved.kafka.sasl_password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(resolved) and PASSWORD not in str(resolved.model_dump())

    monkeypatch.setenv("NEXUS_KAFKA__SASL_PASSWORD", "aws-secretsmanager:does/not/exist")
    with pytest.raises(ConfigError, match=r"kafka\.sasl_password: secret 'does/not/exist'") as info:
        await resolve_secrets(load_settings(env_file=None), options)
    assert PASSWORD not in str(info.value)
    monkeypatch.setenv("NEXUS_KAFKA__SASL_PASSWORD", f"aws-secretsmanager:{secret}#nokey")
    with pytest.raises(ConfigError, match="no JSON key 'nokey'"):
        await resolve_secrets(load_settings(env_file=None), options)


def test_the_daemon_never_shows_a_secret(stack, secret: str, tmp_path: Path) -> None:
    """Resolved from moto's Secrets Manager at start-up; absent from the logs (at DEBUG),
    /status, /metrics, /readyz and /healthz."""
    broker = Broker(tmp_path)
    port = devstack.free_port()
    try:
        env = sink_env(
            broker.bootstrap,
            f"file://{tmp_path / 'lake'}",
            tmp_path / "registry",
            "g-secret",
            NEXUS_KAFKA__SASL_USERNAME=f"aws-secretsmanager:{secret}#username",
            NEXUS_KAFKA__SASL_PASSWORD=f"aws-secretsmanager:{secret}#password",
            NEXUS_AWS__ENDPOINT_URL=stack.aws_endpoint_url,
            NEXUS_AWS__REGION=stack.region,
            NEXUS_HEALTH__PORT=str(port),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
        run = subprocess.Popen(
            [sys.executable, "-m", "keystone_nexus", "run", "--log-level", "DEBUG"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        pages: dict[str, str] = {}
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "partitions" not in pages.get("/status", ""):
                time.sleep(0.5)
                for page in ("/status", "/metrics", "/readyz", "/healthz"):
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=5) as answer:
                            pages[page] = answer.read().decode()
                    except urllib.error.HTTPError as error:
                        pages[page] = error.read().decode()
                    except OSError:
                        continue
        finally:
            run.send_signal(signal.SIGTERM)
            output, _ = run.communicate(timeout=60)
    finally:
        broker.stop()
    assert run.returncode == 0, output[-3000:]
    assert "bronze sink started" in output
    assert set(pages) == {"/status", "/metrics", "/readyz", "/healthz"}, output[-3000:]
    assert '"owner"' in pages["/status"] and "nexus_sink" in pages["/metrics"]
    for text in [output, *pages.values()]:
        assert PASSWORD not in text


def test_every_command_resolves_references_not_only_the_daemon(stack, tmp_path: Path) -> None:
    """`nexus dashboard` (as replay, the twin, reprocess...) loads its settings through
    the CLI, which resolves references before the command runs; a reference that cannot
    be read stops it naming the setting."""
    name = f"dash/{uuid.uuid4().hex[:8]}"
    status_url = f"http://127.0.0.1:{devstack.free_port()}"
    boto3.client(
        "secretsmanager",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_secret(Name=name, SecretString=f'{{"status_url": "{status_url}"}}')
    port = devstack.free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_"))},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "NEXUS_AWS__ENDPOINT_URL": stack.aws_endpoint_url,
        "NEXUS_AWS__REGION": stack.region,
        "NEXUS_DASHBOARD__DUCKDB": str(tmp_path / "warehouse.duckdb"),
        "NEXUS_DASHBOARD__LISTEN": f"127.0.0.1:{port}",
        "NEXUS_DASHBOARD__STATUS_URL": f"aws-secretsmanager:{name}#status_url",
    }
    about, errors = dashboard_about(env, port)
    assert about is not None, errors[-2000:]
    assert about["sink"] == status_url

    env["NEXUS_DASHBOARD__STATUS_URL"] = "aws-secretsmanager:does/not/exist"
    failed = subprocess.run(
        [sys.executable, "-m", "keystone_nexus", "dashboard"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 78  # CONFIG
    assert "dashboard.status_url: secret 'does/not/exist' could not be read" in failed.stderr


def test_the_cpp_server_gets_its_secrets_through_nexus_secrets_exec(stack, tmp_path: Path) -> None:
    """The C++ server reads no Secrets Manager: `nexus secrets exec` resolves the
    references in its environment and becomes it. Here the broker address is the secret:
    an event published through the server is acknowledged by Kafka only if it was
    resolved. A missing secret stops the start naming the variable (exit 78)."""
    from keystone_nexus.ingest.client import IngestClient
    from tests.integration.conformance.conftest import order_item
    from tests.integration.ingestkit import CPP_SERVER, NEXUS, ServerProcess, sync_schema_ids

    name = f"ingest/{uuid.uuid4().hex[:8]}"
    boto3.client(
        "secretsmanager",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_secret(Name=name, SecretString=f'{{"brokers": "{stack.bootstrap_servers}"}}')
    ids, _ = sync_schema_ids(tmp_path)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NEXUS_", "AWS_"))},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "NEXUS_AWS__ENDPOINT_URL": stack.aws_endpoint_url,
        "NEXUS_AWS__REGION": stack.region,
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": f"aws-secretsmanager:{name}#brokers",
    }
    command = [
        *NEXUS,
        "secrets",
        "exec",
        "--",
        str(CPP_SERVER),
        "--listen",
        "127.0.0.1:0",
        "--schema-ids",
        str(ids),
    ]
    server = ServerProcess(command, env=env)
    try:
        with IngestClient(server.url) as client:
            assert client.publish([order_item(1)]).accepted == 1
    finally:
        assert server.stop() == 0
    assert not any(stack.bootstrap_servers in str(line) for line in server.logs if "secret" in str(line))

    env["NEXUS_KAFKA__BOOTSTRAP_SERVERS"] = "aws-secretsmanager:does/not/exist"
    failed = subprocess.run([*command], env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 78
    assert failed.stderr.strip() == (
        "nexus: NEXUS_KAFKA__BOOTSTRAP_SERVERS: secret 'does/not/exist' could not be read (ResourceNotFoundException)"
    )
