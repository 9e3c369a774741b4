"""The local stack (Tansu + moto) against real processes: no mocks."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from keystone_nexus.config import Settings
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev import stack as devstack
from keystone_nexus.dev.stack import DevStackError, ManagedProcess, StackInfo
from keystone_nexus.dev.stack import process as stack_process

from .conftest import INTEGRATION_PARTITIONS

pytestmark = pytest.mark.integration

SECOND_TOPICS = ("devstack.test.alpha", "devstack.test.beta")

REQUIRED_ENV = (
    "NEXUS_KAFKA__BOOTSTRAP_SERVERS",
    "NEXUS_KAFKA__TOPICS",
    "NEXUS_AWS__ENDPOINT_URL",
    "NEXUS_AWS__REGION",
    "NEXUS_LAKE__URI",
    "NEXUS_REGISTRY__KIND",
    "NEXUS_REGISTRY__REGISTRY_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
)


def aws(info: StackInfo, service: str, *, quick: bool = False) -> Any:
    import boto3  # type: ignore[import-untyped,unused-ignore]
    from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

    config = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1}) if quick else None
    return boto3.client(
        service,
        endpoint_url=info.aws_endpoint_url,
        region_name=info.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def partitions_by_topic(bootstrap: str) -> dict[str, int]:
    # All-topics metadata: naming a topic would make Tansu auto-create it.
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in metadata.topics.items()}


def source_env_file(path: Path) -> dict[str, str]:
    result = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; env', "bash", str(path)],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# ------------------------------------------------------------- the session stack


def test_stack_comes_up(stack: StackInfo) -> None:
    report = devstack.status(stack.state_dir)
    assert report["running"], report
    procs = report["processes"]
    assert set(procs) == {"broker", "moto", "postgres"}
    assert all(p["alive"] and not p["paused"] for p in procs.values())
    assert stack.bootstrap_servers == f"127.0.0.1:{procs['broker']['port']}"
    assert stack.aws_endpoint_url == f"http://127.0.0.1:{procs['moto']['port']}"
    assert stack.region == "us-east-1"
    assert stack.bucket == "keystone-nexus-lake"
    assert stack.lake_uri == "s3://keystone-nexus-lake/lake"
    assert stack.registry_name == "keystone-nexus"
    assert stack.topics == contracts.topics()
    assert devstack.load_info(stack.state_dir) == stack
    assert (stack.state_dir / "logs" / "broker.log").is_file()
    assert (stack.state_dir / "logs" / "moto.log").is_file()


def test_every_topic_has_the_requested_partitions(stack: StackInfo) -> None:
    have = partitions_by_topic(stack.bootstrap_servers)
    assert {t: have.get(t) for t in contracts.topics()} == {
        t: INTEGRATION_PARTITIONS for t in contracts.topics()
    }
    assert devstack.topic_partitions(stack.bootstrap_servers) == have


def test_create_topics_is_idempotent_and_rejects_a_partition_mismatch(stack: StackInfo) -> None:
    topics = contracts.topics()[:2]
    devstack.create_topics(stack.bootstrap_servers, topics, INTEGRATION_PARTITIONS)
    with pytest.raises(DevStackError, match="do not have 5 partitions"):
        devstack.create_topics(stack.bootstrap_servers, topics, 5)


async def test_confluent_produces_and_an_aiokafka_group_consumes_and_commits(
    stack: StackInfo,
) -> None:
    # A topic of its own: the olist topics belong to the tests that count their records.
    topic = "devstack.check.v1"
    devstack.create_topics(stack.bootstrap_servers, [topic], INTEGRATION_PARTITIONS)
    value = uuid.uuid4().hex.encode()
    producer = Producer(
        {"bootstrap.servers": stack.bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    delivered: list[tuple[Any, int | None, int | None]] = []
    producer.produce(
        topic,
        key=b"key-" + value,
        value=value,
        on_delivery=lambda err, msg: delivered.append((err, msg.partition(), msg.offset())),
    )
    assert producer.flush(15) == 0
    [(err, partition, offset)] = delivered
    assert err is None and partition is not None and offset is not None

    group = f"devstack-test-{uuid.uuid4().hex[:8]}"
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=stack.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found = None
        deadline = time.monotonic() + 30
        while found is None and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                found = next((r for r in records if r.value == value), found)
        assert found is not None, "the produced message never arrived"
        assert (found.partition, found.offset, found.key) == (partition, offset, b"key-" + value)
        await consumer.commit({tp: offset + 1})
        assert await consumer.committed(tp) == offset + 1
    finally:
        await consumer.stop()

    # A new member of the group sees the commit (it is stored in the broker).
    reader = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await reader.start()
    try:
        assert await reader.committed(tp) == offset + 1
    finally:
        await reader.stop()


def test_bucket_exists_and_objects_round_trip(stack: StackInfo) -> None:
    s3 = aws(stack, "s3")
    s3.head_bucket(Bucket=stack.bucket)
    key = f"lake/_devstack_test/{uuid.uuid4().hex}.txt"
    s3.put_object(Bucket=stack.bucket, Key=key, Body=b"hello lake")
    assert s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read() == b"hello lake"
    listed = s3.list_objects_v2(Bucket=stack.bucket, Prefix="lake/_devstack_test/")
    assert key in [o["Key"] for o in listed["Contents"]]


def test_glue_registry_exists(stack: StackInfo) -> None:
    registry = aws(stack, "glue").get_registry(RegistryId={"RegistryName": stack.registry_name})
    assert registry["RegistryName"] == "keystone-nexus"
    assert registry["RegistryArn"].endswith(":registry/keystone-nexus")


def test_env_file_is_sourceable_and_has_the_settings(stack: StackInfo) -> None:
    sourced = source_env_file(stack.env_file)
    assert set(REQUIRED_ENV) <= set(sourced)
    assert {k: sourced.get(k) for k in stack.env()} == stack.env()
    assert sourced["NEXUS_KAFKA__BOOTSTRAP_SERVERS"] == stack.bootstrap_servers
    assert sourced["NEXUS_AWS__ENDPOINT_URL"] == stack.aws_endpoint_url
    assert sourced["NEXUS_LAKE__URI"] == "s3://keystone-nexus-lake/lake"
    assert sourced["NEXUS_REGISTRY__KIND"] == "glue"
    assert sourced["NEXUS_KAFKA__TOPICS"].split(",") == list(contracts.topics())
    assert sourced["AWS_ACCESS_KEY_ID"] == sourced["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert sourced["AWS_DEFAULT_REGION"] == "us-east-1"


def test_env_file_quotes_awkward_values(tmp_path: Path) -> None:
    awkward = {"A": "two words", "B": 'it\'s $HOME `x` "q" \\', "C": "", "D": "a=b;c|d"}
    path = tmp_path / "env"
    path.write_text(devstack.render_env_file(awkward))
    sourced = source_env_file(path)
    assert {k: sourced.get(k) for k in awkward} == awkward


def test_sourced_env_is_accepted_by_the_service_settings(
    stack: StackInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keystone_nexus.config import load_settings

    for key in [k for k in os.environ if k.startswith("NEXUS_")]:
        monkeypatch.delenv(key)
    for key, value in source_env_file(stack.env_file).items():
        if key.startswith(("NEXUS_", "AWS_")):
            monkeypatch.setenv(key, value)
    settings = load_settings(env_file=None)
    assert settings.kafka.bootstrap_servers == stack.bootstrap_servers
    assert settings.kafka.topics == contracts.topics()
    assert settings.kafka.partitions == INTEGRATION_PARTITIONS
    assert settings.aws.endpoint_url == stack.aws_endpoint_url
    assert settings.aws.region == "us-east-1"
    assert settings.lake.uri == stack.lake_uri
    assert settings.registry.kind == "glue"
    assert settings.registry.registry_name == stack.registry_name


def test_the_stack_runs_postgresql_and_names_it_in_the_env_file(stack: StackInfo) -> None:
    import psycopg

    assert devstack.status(stack.state_dir)["processes"]["postgres"]["alive"]
    assert f"NEXUS_STATE__DSN={stack.postgres_dsn}" in stack.env_file.read_text()
    with psycopg.connect(stack.postgres_dsn, connect_timeout=5) as db:
        assert db.execute("SELECT current_database(), current_user").fetchone() == ("nexus", "nexus")
    assert Settings(state={"dsn": stack.postgres_dsn}).state.dsn == stack.postgres_dsn
    # Beside it, the local Airflow's metadata database, named in the env file for Airflow.
    with psycopg.connect(stack.airflow_dsn, connect_timeout=5) as db:
        assert db.execute("SELECT current_database()").fetchone() == ("airflow",)
    conn = stack.airflow_sql_alchemy_conn
    assert conn.startswith("postgresql+psycopg2://nexus:") and conn.endswith("/airflow")
    assert f"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={conn}" in stack.env_file.read_text()


def test_a_stack_without_postgresql_and_the_cluster_kept_across_down_and_up(tmp_path: Path) -> None:
    import psycopg

    bare = devstack.up(tmp_path / "bare", topics=SECOND_TOPICS, partitions=1, postgres=False)
    try:
        assert bare.postgres_dsn == "" and "NEXUS_STATE__DSN" not in bare.env_file.read_text()
        assert bare.airflow_dsn == "" and "AIRFLOW__" not in bare.env_file.read_text()
        assert "postgres" not in devstack.status(bare.state_dir)["processes"]
    finally:
        devstack.down(bare.state_dir)
    state_dir = tmp_path / "kept"
    first = devstack.up(state_dir, topics=SECOND_TOPICS, partitions=1)
    try:
        with psycopg.connect(first.postgres_dsn, autocommit=True) as db:
            db.execute("CREATE TABLE kept (n int)")
            db.execute("INSERT INTO kept VALUES (7)")
    finally:
        assert "postgres" in devstack.down(state_dir)
    assert not devstack.status(state_dir)["processes"]["postgres"]["alive"]
    again = devstack.up(state_dir, topics=SECOND_TOPICS, partitions=1)
    try:
        with psycopg.connect(again.postgres_dsn) as db:
            assert db.execute("SELECT n FROM kept").fetchall() == [(7,)]
    finally:
        devstack.down(state_dir)


# ----------------------------------------------- a second, independent stack


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    state_dir = tmp_path_factory.mktemp("second-stack")
    try:
        yield devstack.up(
            state_dir,
            topics=SECOND_TOPICS,
            partitions=2,
            bucket="second-bucket",
            registry_name="second-registry",
        )
    finally:
        devstack.down(state_dir)


def test_a_second_stack_runs_alongside(stack: StackInfo, second: StackInfo) -> None:
    assert second.state_dir != stack.state_dir
    assert second.bootstrap_servers != stack.bootstrap_servers
    assert second.aws_endpoint_url != stack.aws_endpoint_url
    have = partitions_by_topic(second.bootstrap_servers)
    assert have == {"devstack.test.alpha": 2, "devstack.test.beta": 2}
    buckets = [b["Name"] for b in aws(second, "s3").list_buckets()["Buckets"]]
    assert buckets == ["second-bucket"]
    aws(second, "glue").get_registry(RegistryId={"RegistryName": "second-registry"})
    # The session stack is untouched by it.
    assert partitions_by_topic(stack.bootstrap_servers)[contracts.topics()[0]] == 3
    assert devstack.status(stack.state_dir)["running"]
    assert devstack.status(second.state_dir)["running"]


def test_up_again_returns_the_same_stack_or_refuses_a_different_one(second: StackInfo) -> None:
    again = devstack.up(
        second.state_dir,
        topics=SECOND_TOPICS,
        partitions=2,
        bucket="second-bucket",
        registry_name="second-registry",
    )
    assert again == second
    with pytest.raises(devstack.StackAlreadyRunningError, match="still running"):
        devstack.up(second.state_dir, topics=SECOND_TOPICS, partitions=3)


def test_pausing_moto_stops_answers_until_resumed(second: StackInfo) -> None:
    moto = devstack.processes(second.state_dir)["moto"]
    s3 = aws(second, "s3", quick=True)
    moto.pause()
    try:
        assert devstack.status(second.state_dir)["processes"]["moto"]["paused"]
        with pytest.raises(Exception, match=r"(?i)timeout|timed out"):
            s3.list_buckets()
        with pytest.raises(DevStackError, match=r"moto\.log"):
            devstack.wait_for_http(second.aws_endpoint_url, timeout=1, process=moto)
    finally:
        moto.resume()
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["second-bucket"]


def test_restarting_the_broker_keeps_the_port_and_recreates_topics(second: StackInfo) -> None:
    old = devstack.processes(second.state_dir)["broker"]
    new = devstack.restart(second.state_dir, "broker")
    assert not old.alive()
    assert new.alive() and new.pid != old.pid and new.port == old.port
    assert devstack.processes(second.state_dir)["broker"].pid == new.pid
    assert partitions_by_topic(second.bootstrap_servers) == {
        "devstack.test.alpha": 2,
        "devstack.test.beta": 2,
    }


def test_down_stops_exactly_the_recorded_processes_and_is_idempotent(
    stack: StackInfo, second: StackInfo
) -> None:
    procs = devstack.processes(second.state_dir)
    assert all(p.alive() for p in procs.values())
    assert sorted(devstack.down(second.state_dir)) == ["broker", "moto", "postgres"]
    for proc in procs.values():
        assert not proc.alive()
        assert not port_answers(proc.port)
    assert devstack.down(second.state_dir) == []
    report = devstack.status(second.state_dir)
    assert report["recorded"] and not report["running"]
    # The session stack's processes are other processes: still there.
    assert devstack.status(stack.state_dir)["running"]


# ------------------------------------------------------------- safety checks


def test_up_failing_midway_stops_what_it_started(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DevStackError, match="already in use"):
            devstack.up(tmp_path, topics=SECOND_TOPICS, partitions=1, aws_port=port)
    # The broker was started first; it is gone again, and nothing is recorded.
    log = (tmp_path / "logs" / "broker.log").read_text()
    broker_port = int(re.findall(r"--listener-url tcp://127\.0\.0\.1:(\d+)", log)[-1])
    assert not port_answers(broker_port)
    assert not devstack.status(tmp_path)["recorded"]
    assert devstack.down(tmp_path) == []


def test_down_leaves_a_reused_pid_alone(tmp_path: Path) -> None:
    """A pid recorded for the broker that now belongs to another process survives
    `down`: neither a different command line nor a different start time is killed."""
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        impostor = ManagedProcess(
            name="broker",
            argv=("/nonexistent/tansu", "broker"),
            port=1,
            log_path=tmp_path / "logs" / "broker.log",
            pid=sleeper.pid,
        )
        same_argv_other_start = ManagedProcess(
            name="moto",
            argv=("sleep", "60"),
            port=2,
            log_path=tmp_path / "logs" / "moto.log",
            pid=sleeper.pid,
            start_ticks=1,
        )
        assert not impostor.alive() and not same_argv_other_start.alive()
        info = StackInfo(state_dir=tmp_path, bootstrap_servers="127.0.0.1:1", aws_endpoint_url="x")
        state = {
            "version": 1,
            "state": "running",
            "info": info.to_json(),
            "processes": {
                "broker": impostor.to_json(),
                "moto": same_argv_other_start.to_json(),
            },
        }
        (tmp_path / "stack.json").write_text(json.dumps(state))
        assert devstack.down(tmp_path) == []
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_taken_port_fails_clearly_and_a_dying_broker_points_at_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DevStackError, match="already in use"):
            devstack.start_broker(tmp_path, port)
        # Bypassing the check: Tansu says "ready", then dies (with status 0).
        proc = ManagedProcess.spawn(
            "broker",
            [
                devstack.broker_binary(),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{port}",
            ],
            port=port,
            log_path=tmp_path / "logs" / "broker.log",
        )
        try:
            with pytest.raises(DevStackError, match=r"died \(exited with status 0\).*broker\.log"):
                devstack.wait_for_broker(f"127.0.0.1:{port}", timeout=10, process=proc)
        finally:
            proc.stop()


def test_a_child_just_after_exec_is_alive_even_before_its_argv_is_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after exec, /proc/PID/cmdline can read empty for a moment. For a process
    this interpreter started, liveness comes from its Popen handle, not from /proc;
    once it has exited, it is dead whatever /proc says."""
    proc = ManagedProcess.spawn(
        "sleeper", ["sleep", "60"], port=1, log_path=tmp_path / "logs" / "sleeper.log"
    )
    try:
        monkeypatch.setattr(stack_process, "_proc_identity", lambda pid: ([], proc.start_ticks))
        assert proc.alive()
        # A process recorded by another interpreter still needs a matching /proc entry.
        assert not ManagedProcess.from_json(proc.to_json() | {"pid": proc.pid + 10**6}).alive()
    finally:
        proc.stop()
    assert not proc.alive()
    assert proc.returncode() is not None
