"""`nexus run` started while a dependency is down (Kafka, S3, the Glue registry): it
serves /healthz and a /readyz that names what it waits for, logs one line per window
instead of a traceback, and proceeds once the dependency comes up. And the fence probe
passes on moto's S3."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import threading
import time
import uuid
from pathlib import Path
from typing import Any, cast

import boto3
import orjson
import pytest

from keystone_nexus.aws.clients import AwsOptions
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.lake.fence import PROBE_PREFIX, probe_fencing
from keystone_nexus.lake.s3 import S3Store
from tests.integration.sinkkit import (
    PARTITIONS,
    TOPICS,
    Broker,
    SinkProcess,
    get,
    produce_known_set,
    registered_versions,
    sink_env,
    wait_caught_up,
    wait_for,
)

pytestmark = pytest.mark.integration

AWS_TESTING = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def readyz(base: str) -> tuple[int, dict[str, Any]]:
    status, body = get(f"{base}/readyz")
    return status, orjson.loads(body) if body else {}


def waits_for(base: str, dependency: str, attempts: int) -> bool:
    """/readyz is 503, names `dependency`, and start-up has tried it `attempts` times."""
    status, doc = readyz(base)
    reasons = " ".join(doc.get("reasons", []))
    return status == 503 and dependency in doc.get("waiting_for", []) and f"(attempt {attempts}," in reasons


def json_lines(log_path: Path) -> list[dict[str, Any]]:
    out = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(orjson.loads(line))
    return out


def assert_waited_quietly(run: SinkProcess, dependency: str) -> None:
    """No traceback; one 'waiting for' line for the whole outage (it lasted less than
    a log window), and one line when the dependency came back, after several tries."""
    text = run.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
    lines = json_lines(run.log_path)
    waiting = [d for d in lines if d.get("event") == f"waiting for {dependency}"]
    back = [d for d in lines if d.get("event") == f"{dependency} available"]
    assert len(waiting) == 1, [d["event"] for d in lines]
    assert len(back) == 1 and back[0]["attempts"] >= 4, back


def start_on(port: int, start: Any, attempts: int = 3) -> Any:
    """Start a server on `port` (picked free earlier: something else may have taken it)."""
    for attempt in range(attempts):
        try:
            return start(port)
        except devstack.DevStackError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def test_kafka_down_at_start_then_up(tmp_path: Path) -> None:
    kafka_port, health_port = devstack.free_port(), devstack.free_port()
    bootstrap = f"127.0.0.1:{kafka_port}"
    base = f"http://127.0.0.1:{health_port}"
    lake = tmp_path / "lake"
    env = sink_env(
        bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_HEALTH__PORT=str(health_port),
    )
    run = SinkProcess(env, tmp_path)
    broker = None
    try:
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, 30), run.log()
        assert wait_for(lambda: waits_for(base, "Kafka", 3), 30), (readyz(base), run.log())
        assert bootstrap in " ".join(readyz(base)[1]["reasons"])
        assert run.proc.poll() is None
        broker = start_on(kafka_port, lambda port: devstack.start_broker(tmp_path, port))
        # If the sink asked first, the broker made the topics itself: any partition count does.
        with contextlib.suppress(devstack.DevStackError):
            devstack.create_topics(bootstrap, list(TOPICS), PARTITIONS)
        assert wait_for(lambda: readyz(base)[0] == 200, 60), (readyz(base), run.log())
        produced = produce_known_set(bootstrap, 60)
        assert wait_caught_up(lake, produced.ends, 60, alive=lambda: run.proc.poll() is None), run.log()
    finally:
        code = run.stop()
        if broker is not None:
            broker.stop()
    assert code == 0, run.log()
    assert_waited_quietly(run, "Kafka")


def _moto_env(endpoint: str) -> dict[str, str]:
    return {
        "NEXUS_AWS__ENDPOINT_URL": endpoint,
        "NEXUS_AWS__REGION": "us-east-1",
        "NEXUS_AWS__CONNECT_TIMEOUT_S": "1",
        "NEXUS_AWS__READ_TIMEOUT_S": "2",
        "NEXUS_AWS__MAX_ATTEMPTS": "2",
        **AWS_TESTING,
    }


def _s3_checkpoints(s3: Any, bucket: str, prefix: str) -> dict[tuple[str, int], int]:
    done = {}
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/_checkpoints/")
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith(".json"):
                doc = orjson.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                if doc.get("pending") is None:
                    done[(doc["topic"], doc["partition"])] = doc["next_offset"]
    return done


class Forwarder(socketserver.ThreadingTCPServer):
    """127.0.0.1:`port` forwarded to `target_port`: an endpoint that comes up at once,
    complete (moto with its bucket already made), when the forwarder starts."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, target_port: int) -> None:
        self.target_port = target_port
        super().__init__(("127.0.0.1", port), _Pipe)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = cast(Forwarder, self.server)
        with socket.create_connection(("127.0.0.1", server.target_port)) as upstream:

            def pump(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(65536):
                        dst.sendall(data)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            back = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
            back.start()
            pump(self.request, upstream)
            back.join(30)


def test_s3_down_at_start_then_up(broker: Broker, tmp_path: Path) -> None:
    s3_port, health_port = devstack.free_port(), devstack.free_port()
    endpoint = f"http://127.0.0.1:{s3_port}"
    base = f"http://127.0.0.1:{health_port}"
    bucket, prefix = f"lake-{uuid.uuid4().hex[:8]}", "bronze-test"
    env = sink_env(
        broker.bootstrap,
        f"s3://{bucket}/{prefix}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_HEALTH__PORT=str(health_port),
        NEXUS_CATALOG__DATABASE=f"bronze_{uuid.uuid4().hex[:6]}",
        **_moto_env(endpoint),
    )
    run = SinkProcess(env, tmp_path)
    moto = forwarder = None
    try:
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, 30), run.log()
        assert wait_for(lambda: waits_for(base, "S3", 3), 40), (readyz(base), run.log())
        assert f"s3://{bucket}/{prefix}" in " ".join(readyz(base)[1]["reasons"])
        assert run.proc.poll() is None
        # S3 comes up with the lake's bucket in it (a missing bucket is a refusal, not a wait).
        moto = start_on(devstack.free_port(), lambda port: devstack.start_moto(tmp_path, port))
        moto_url = f"http://127.0.0.1:{moto.port}"
        devstack.provision_aws(moto_url, bucket=bucket, registry_name="unused", region="us-east-1")
        forwarder = Forwarder(s3_port, moto.port)
        assert wait_for(lambda: readyz(base)[0] == 200, 60), (readyz(base), run.log())
        produced = produce_known_set(broker.bootstrap, 60)
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1", **_boto_keys())

        def caught_up() -> bool:
            done = _s3_checkpoints(s3, bucket, prefix)
            return all(done.get(k, 0) >= v for k, v in produced.ends.items())

        assert wait_for(caught_up, 60), run.log()
        probes = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{PROBE_PREFIX}")
        assert probes.get("KeyCount", 0) == 0, "the fence probe deletes its object"
    finally:
        code = run.stop()
        if forwarder is not None:
            forwarder.stop()
        if moto is not None:
            moto.stop()
    assert code == 0, run.log()
    assert_waited_quietly(run, "S3")


def _boto_keys() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_glue_down_at_start_then_up(broker: Broker, tmp_path: Path) -> None:
    moto_port, health_port = devstack.free_port(), devstack.free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    base = f"http://127.0.0.1:{health_port}"
    lake = tmp_path / "lake"
    registry_name = f"reg-{uuid.uuid4().hex[:6]}"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "unused",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_HEALTH__PORT=str(health_port),
        NEXUS_REGISTRY__KIND="glue",
        NEXUS_REGISTRY__REGISTRY_NAME=registry_name,
        **_moto_env(endpoint),
    )
    run = SinkProcess(env, tmp_path)
    moto = None
    try:
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, 30), run.log()
        assert wait_for(lambda: waits_for(base, "Glue Schema Registry", 3), 40), (readyz(base), run.log())
        assert registry_name in " ".join(readyz(base)[1]["reasons"])
        assert run.proc.poll() is None
        moto = start_on(moto_port, lambda port: devstack.start_moto(tmp_path, port))
        assert wait_for(lambda: readyz(base)[0] == 200, 60), (readyz(base), run.log())
        # The sink registered the schemas at start (sync_on_start); ask for their ids.
        versions = registered_versions(env, tmp_path)
        produced = produce_known_set(broker.bootstrap, 60, versions=versions)
        assert wait_caught_up(lake, produced.ends, 60, alive=lambda: run.proc.poll() is None), run.log()
    finally:
        code = run.stop()
        if moto is not None:
            moto.stop()
    assert code == 0, run.log()
    assert_waited_quietly(run, "Glue Schema Registry")


def test_moto_s3_passes_the_fence_probe(stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in stack.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)

    async def probe() -> list[str]:
        options = AwsOptions(region=stack.region, endpoint_url=stack.aws_endpoint_url)
        store = await S3Store.open(options, stack.bucket, f"probe-{uuid.uuid4().hex[:8]}")
        try:
            await probe_fencing(store, "host:123:abc")
            return await store.list(PROBE_PREFIX)
        finally:
            await store.close()

    assert asyncio.run(probe()) == []


def test_secrets_manager_down_at_start_then_up(broker: Broker, tmp_path: Path) -> None:
    """A setting that references Secrets Manager, which does not answer at start: the sink
    waits for it like for its other dependencies, then resolves the reference and runs."""
    sm_port, health_port = devstack.free_port(), devstack.free_port()
    endpoint = f"http://127.0.0.1:{sm_port}"
    base = f"http://127.0.0.1:{health_port}"
    lake = tmp_path / "lake"
    secret_id = f"nexus/client-{uuid.uuid4().hex[:6]}"
    env = sink_env(
        broker.bootstrap,
        f"file://{lake}",
        tmp_path / "registry",
        f"g-{uuid.uuid4().hex[:6]}",
        NEXUS_HEALTH__PORT=str(health_port),
        NEXUS_KAFKA__CLIENT_ID=f"aws-secretsmanager:{secret_id}#client_id",
        **_moto_env(endpoint),
    )
    run = SinkProcess(env, tmp_path)
    moto = forwarder = None
    try:
        assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, 30), run.log()
        assert wait_for(lambda: waits_for(base, "Secrets Manager", 3), 40), (readyz(base), run.log())
        assert endpoint in " ".join(readyz(base)[1]["reasons"])
        assert run.proc.poll() is None
        # Secrets Manager comes up with the secret in it (a missing secret is a refusal).
        moto = start_on(devstack.free_port(), lambda port: devstack.start_moto(tmp_path, port))
        sm = boto3.client(
            "secretsmanager",
            endpoint_url=f"http://127.0.0.1:{moto.port}",
            region_name="us-east-1",
            **_boto_keys(),
        )
        sm.create_secret(
            Name=secret_id, SecretString=orjson.dumps({"client_id": "nexus-from-secret"}).decode()
        )
        forwarder = Forwarder(sm_port, moto.port)
        assert wait_for(lambda: readyz(base)[0] == 200, 60), (readyz(base), run.log())
        produced = produce_known_set(broker.bootstrap, 60)
        assert wait_caught_up(lake, produced.ends, 60, alive=lambda: run.proc.poll() is None), run.log()
    finally:
        code = run.stop()
        if forwarder is not None:
            forwarder.stop()
        if moto is not None:
            moto.stop()
    assert code == 0, run.log()
    assert_waited_quietly(run, "Secrets Manager")
    assert "nexus-from-secret" not in run.log_path.read_text(), "a secret's value is never logged"
