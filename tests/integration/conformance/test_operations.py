"""How both ingestion servers are run: /metrics, settings, TLS, shutdown, and `replay
--via` through each (`kind` is "twin" or "cpp"; conftest.py)."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from keystone.olist.v1 import ingestion_pb2, ingestion_pb2_grpc, olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev.stack import StackInfo, free_port
from keystone_nexus.errors import IngestError
from keystone_nexus.ingest.client import IngestClient
from keystone_nexus.olist.reader import dataset_file, read
from tests.integration.conformance.conftest import MAX_BATCH_EVENTS, Launch, bad_events, order_item
from tests.integration.conftest import INTEGRATION_PARTITIONS
from tests.integration.ingestkit import (
    CPP_SERVER,
    NEXUS,
    ServerProcess,
    default_metrics_port_taken,
    read_back,
    scrape_metrics,
    server_command,
    server_env,
)

pytestmark = pytest.mark.integration

TOPICS = list(contracts.topics())

# --------------------------------------------------------------------- /metrics

LATENCY = "nexus_ingest_request_duration_seconds"
LATENCY_LE = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"]
LATENCY_LE += ["10", "60", "+Inf"]
COUNTERS = {
    'nexus_ingest_calls_total{method="Publish"}',
    'nexus_ingest_calls_total{method="PublishStream"}',
    "nexus_ingest_events_accepted_total",
    'nexus_ingest_events_rejected_total{reason="invalid"}',
    'nexus_ingest_events_rejected_total{reason="queue_full"}',
    'nexus_ingest_events_rejected_total{reason="delivery"}',
    'nexus_ingest_events_rejected_total{reason="permission_denied"}',
    'nexus_ingest_auth_rejections_total{reason="missing_token"}',
    'nexus_ingest_auth_rejections_total{reason="unknown_token"}',
    'nexus_ingest_auth_rejections_total{reason="permission_denied"}',
    "nexus_ingest_kafka_produced_total",
    "nexus_ingest_kafka_delivery_errors_total",
    "nexus_ingest_kafka_queue_messages",
}
SERIES = COUNTERS | {
    f'{LATENCY}_{part}{{method="{method}"}}'
    for part in ("sum", "count")
    for method in ("Publish", "PublishStream")
}
SERIES |= {
    f'{LATENCY}_bucket{{le="{le}",method="{m}"}}' for le in LATENCY_LE for m in ("Publish", "PublishStream")
}


def test_metrics_has_the_series_one_dashboard_reads(server: ServerProcess) -> None:
    assert server.metrics_port > 0
    assert set(scrape_metrics(server.metrics_port)) == SERIES


def test_metrics_count_what_was_answered(server: ServerProcess, client: IngestClient) -> None:
    before = scrape_metrics(server.metrics_port)
    bad = [e for e, _ in bad_events()]
    unary = client.publish([order_item(i) for i in range(20)] + bad)
    assert (unary.accepted, unary.rejected) == (20, len(bad))
    stream = client.publish_stream(
        [
            [order_item(i) for i in range(30)] + bad[:2],
            [order_item(i) for i in range(MAX_BATCH_EVENTS + 1)],  # rejected: over the limit
            [order_item(7)],
        ]
    )
    assert (stream.accepted, stream.rejected) == (31, 2 + MAX_BATCH_EVENTS + 1)
    with pytest.raises(IngestError, match="over the limit"):  # counted, but not timed
        client.publish([order_item(i) for i in range(MAX_BATCH_EVENTS + 1)])
    after = scrape_metrics(server.metrics_port)
    deadline = time.monotonic() + 10  # every report is in; the queue may need a poll to say so
    while after["nexus_ingest_kafka_queue_messages"] and time.monotonic() < deadline:
        time.sleep(0.1)
        after = scrape_metrics(server.metrics_port)

    delta = {k: after[k] - before[k] for k in COUNTERS}
    assert delta == {
        'nexus_ingest_calls_total{method="Publish"}': 2,
        'nexus_ingest_calls_total{method="PublishStream"}': 1,
        "nexus_ingest_events_accepted_total": 51,
        'nexus_ingest_events_rejected_total{reason="invalid"}': len(bad) + 2 + MAX_BATCH_EVENTS + 1,
        'nexus_ingest_events_rejected_total{reason="queue_full"}': 0,
        'nexus_ingest_events_rejected_total{reason="delivery"}': 0,
        'nexus_ingest_events_rejected_total{reason="permission_denied"}': 0,
        'nexus_ingest_auth_rejections_total{reason="missing_token"}': 0,
        'nexus_ingest_auth_rejections_total{reason="unknown_token"}': 0,
        'nexus_ingest_auth_rejections_total{reason="permission_denied"}': 0,
        "nexus_ingest_kafka_produced_total": 51,
        "nexus_ingest_kafka_delivery_errors_total": 0,
        "nexus_ingest_kafka_queue_messages": 0,
    }
    for method in ("Publish", "PublishStream"):
        buckets = [after[f'{LATENCY}_bucket{{le="{le}",method="{method}"}}'] for le in LATENCY_LE]
        assert buckets == sorted(buckets), "buckets are cumulative"
        count = f'{LATENCY}_count{{method="{method}"}}'
        assert buckets[-1] == after[count]
        assert after[count] - before[count] == 1
        assert (
            0
            < after[f'{LATENCY}_sum{{method="{method}"}}'] - before[f'{LATENCY}_sum{{method="{method}"}}']
            < 60
        )


def test_a_taken_metrics_port_is_fatal_when_chosen_and_a_warning_when_default(
    kind: str, launch: Launch, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    command = server_command(kind, stack.bootstrap_servers, schema_ids[0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        chosen = f"127.0.0.1:{taken.getsockname()[1]}"
        # Chosen by flag, then by environment: the start fails and says which address.
        for extra, settings in (
            (["--metrics-listen", chosen], {}),
            ([], {"NEXUS_INGEST__METRICS_LISTEN": chosen}),
        ):
            done = subprocess.run(
                [*command, *extra], env=server_env(settings), capture_output=True, text=True, timeout=60
            )
            assert done.returncode != 0, done.stderr
            assert chosen in done.stderr
            assert "serving" not in done.stderr

    with default_metrics_port_taken():
        server = launch()
        assert server.metrics_port == 0
        (disabled,) = server.events("metrics_disabled")
        assert "127.0.0.1:9464" in disabled["error"]
        assert disabled["detail"] == "set --metrics-listen HOST:PORT (port 0: any free one) or none"
        with IngestClient(server.url) as c:
            assert c.publish([order_item(60)]).accepted == 1
        assert server.stop() == 0


# --------------------------------------------------------------------- settings


def test_serve_takes_its_settings_from_the_environment(
    kind: str, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    port = free_port()
    settings = {
        "NEXUS_INGEST__LISTEN": f"127.0.0.1:{port}",
        "NEXUS_INGEST__SCHEMA_IDS": str(schema_ids[0]),
        "NEXUS_INGEST__MAX_BATCH_EVENTS": "5",
        "NEXUS_INGEST__METRICS_LISTEN": "127.0.0.1:0",
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": stack.bootstrap_servers,
    }
    command = [str(CPP_SERVER)] if kind == "cpp" else [*NEXUS, "ingest", "serve"]
    server = ServerProcess(command, env=server_env(settings))
    try:
        assert server.address == f"127.0.0.1:{port}"
        assert server.metrics_port not in (0, 9464)
        assert scrape_metrics(server.metrics_port)["nexus_ingest_events_accepted_total"] == 0
        with IngestClient(server.url) as c:
            assert c.publish([order_item(i) for i in range(5)]).accepted == 5
            with pytest.raises(IngestError, match="over the limit of 5"):
                c.publish([order_item(i) for i in range(6)])
    finally:
        assert server.stop() == 0


# --------------------------------------------------------------------- shutdown


def test_sigterm_lets_an_in_flight_stream_finish_and_flushes(launch: Launch) -> None:
    server = launch()
    first_sent = threading.Event()

    def batches() -> Iterator[list[olist_pb2.Event]]:
        yield [order_item(i) for i in range(100)]
        first_sent.set()
        time.sleep(1.5)  # SIGTERM arrives here
        yield [order_item(i) for i in range(100)]

    with IngestClient(server.url) as c:
        answer: list[Any] = []
        sender = threading.Thread(target=lambda: answer.append(c.publish_stream(batches())))
        sender.start()
        assert first_sent.wait(10)
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        sender.join(30)
    assert answer and (answer[0].accepted, answer[0].rejected) == (200, 0)
    assert server.stop() == 0
    stopped = server.events("stopped")[0]
    assert (stopped["unflushed"], stopped["events_accepted_total"]) == (0, 200)


# -------------------------------------------------------------------------- TLS


def make_pki(tmp: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl."""

    def run(command: str) -> None:
        subprocess.run(["openssl", *command.split()], check=True, capture_output=True, cwd=tmp)

    run("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=nexus-test-ca -keyout ca.key -out ca.pem")
    (tmp / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        run(f"req -newkey rsa:2048 -nodes -subj /CN=nexus-{name} -keyout {name}.key -out {name}.csr")
        run(
            f"x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
            f" -extfile san.ext -out {name}.pem"
        )
    return {name: tmp / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_and_mutual_tls(launch: Launch, pki: dict[str, Path]) -> None:
    tls = {"NEXUS_INGEST__TLS_CERT": str(pki["server.pem"]), "NEXUS_INGEST__TLS_KEY": str(pki["server.key"])}
    ca = pki["ca.pem"].read_bytes()
    request = ingestion_pb2.PublishRequest(events=[order_item(11)])

    server = launch("--metrics-listen", "none", settings=tls)
    assert server.events("serving")[0]["tls"] == "tls"
    with grpc.secure_channel(server.address, grpc.ssl_channel_credentials(root_certificates=ca)) as channel:
        assert ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=30).accepted == 1
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as err:
        ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, "a plaintext client gets no service"
    assert server.stop() == 0

    server = launch(
        "--metrics-listen", "none", settings={**tls, "NEXUS_INGEST__TLS_CLIENT_CA": str(pki["ca.pem"])}
    )
    assert server.events("serving")[0]["tls"] == "mutual"
    with_cert = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=pki["client.key"].read_bytes(),
        certificate_chain=pki["client.pem"].read_bytes(),
    )
    with grpc.secure_channel(server.address, with_cert) as channel:
        assert ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=30).accepted == 1
    no_cert = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel(server.address, no_cert) as channel, pytest.raises(grpc.RpcError) as err:
        ingestion_pb2_grpc.IngestionServiceStub(channel).Publish(request, timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, "a client without a certificate is refused"
    assert server.stop() == 0


def test_tls_with_a_missing_key_file_fails_at_start_and_says_which(
    kind: str, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]], pki: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.key"
    settings = {"NEXUS_INGEST__TLS_CERT": str(pki["server.pem"]), "NEXUS_INGEST__TLS_KEY": str(missing)}
    done = subprocess.run(
        server_command(kind, stack.bootstrap_servers, schema_ids[0], "--metrics-listen", "none"),
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0, done.stderr
    assert re.search(r"tls[-_]key", done.stderr) and str(missing) in done.stderr, done.stderr
    assert '"serving"' not in done.stderr


# ------------------------------------------------------- replay --via each server


def replay_via(url: str, dataset: Path, *extra: str, code: int = 0) -> tuple[dict[str, int], str]:
    done = subprocess.run(
        [*NEXUS, "replay", "--from", str(dataset), "--via", url, "--no-progress", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == code, done.stdout + done.stderr
    total = re.search(r"^total\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)", done.stdout, re.M)
    assert total, done.stdout
    sent, accepted, rejected = (int(x.replace(",", "")) for x in total.groups())
    return {"sent": sent, "accepted": accepted, "rejected": rejected}, done.stderr


def test_replay_via_writes_every_row_once(
    kind: str, server: ServerProcess, stack: StackInfo, dataset: Path
) -> None:
    rows = 0
    for spec in contracts.entities():
        path, fmt = dataset_file(dataset, spec)
        rows += sum(1 for _ in read(path, spec, fmt, validate=False))
    source = f"replay-{kind}-{uuid.uuid4().hex[:8]}"
    counts, _ = replay_via(server.url, dataset, "--batch", "500", "--source", source)
    assert counts == {"sent": rows, "accepted": rows, "rejected": 0}
    reads = read_back(
        stack.bootstrap_servers,
        TOPICS,
        INTEGRATION_PARTITIONS,
        lambda r: r.headers["source"] == source.encode(),
        rows,
    )
    assert len(reads) == len({r.event_id for r in reads}) == rows, "every row once"
    assert {r.topic for r in reads} == set(TOPICS)


def test_replay_via_reports_rejected_rows_with_file_and_line(
    server: ServerProcess, tmp_path: Path, dataset: Path
) -> None:
    spec = contracts.entity("orders")
    path, _ = dataset_file(dataset, spec)
    lines = path.read_text().splitlines(keepends=True)[:6]
    # Line 3 (the second data row): an unknown order status, which the server rejects.
    cells = lines[2].split(",")
    cells[2] = '"teleported"'
    lines[2] = ",".join(cells)
    (tmp_path / spec.csv_file).write_text("".join(lines))
    rejects = tmp_path / "rejects.jsonl"
    counts, stderr = replay_via(
        server.url, tmp_path, "--entities", "orders", "--stream", "--rejects", str(rejects), code=1
    )
    assert counts == {"sent": 5, "accepted": 4, "rejected": 1}
    assert f"{spec.csv_file}:3: order_status: must be one of" in stderr
    assert '"line":3' in rejects.read_text()
