"""Who may publish, against both servers (`kind` is "twin" or "cpp"; conftest.py): the
refusal of a plaintext listener beyond loopback, the producers' bearer tokens of the
tokens file (UNAUTHENTICATED without a known one, `permission denied` per event for an
entity its producer may not publish, the producer in the source header; under mutual TLS
the client certificate's common name as the producer), the file read
again without a restart, and the exit statuses of a bad setting (78) and a bad command
line (2). keystone_nexus.ingest.auth and ingestion_cpp/src/producer_tokens.h say the rules."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import grpc
import orjson
import pytest

from keystone.olist.v1 import ingestion_pb2, ingestion_pb2_grpc
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.dev.stack import StackInfo
from keystone_nexus.errors import ExitStatus, IngestError
from keystone_nexus.ingest.client import IngestClient
from tests.integration.conformance.conftest import Launch, order_item, review
from tests.integration.conformance.test_operations import make_pki
from tests.integration.conftest import INTEGRATION_PARTITIONS
from tests.integration.ingestkit import (
    CPP_SERVER,
    NEXUS,
    ServerProcess,
    read_back,
    scrape_metrics,
    server_command,
    server_env,
)

pytestmark = pytest.mark.integration

MISSING = "missing credentials: send the call metadata authorization: Bearer <token>"
UNKNOWN = "unknown token: no producer of the server's tokens file has it"
ITEMS_TOKEN, ALL_TOKEN = "items-secret", "all-secret"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_tokens(path: Path, producers: dict[str, dict[str, object]]) -> Path:
    """The tokens file, written anew and renamed over the old one (how to rotate it)."""
    staged = path.with_suffix(".next")
    staged.write_bytes(orjson.dumps({"producers": producers}))
    staged.replace(path)
    return path


@pytest.fixture()
def tokens_file(tmp_path: Path) -> Path:
    return write_tokens(
        tmp_path / "tokens.json",
        {
            "items-app": {"token_sha256": sha256(ITEMS_TOKEN), "entities": ["order_items"]},
            "everything": {"token_sha256": sha256(ALL_TOKEN)},
        },
    )


def with_tokens(launch: Launch, tokens_file: Path) -> ServerProcess:
    return launch("--metrics-listen", "127.0.0.1:0", settings={"NEXUS_INGEST__TOKENS_FILE": str(tokens_file)})


def refused(client: IngestClient, stream: bool = False) -> IngestError:
    with pytest.raises(IngestError) as err:
        if stream:
            client.publish_stream([[order_item(1)]])
        else:
            client.publish([order_item(1)])
    assert err.value.code == "UNAUTHENTICATED", err.value
    return err.value


# ------------------------------------------------------------------ the listener


def test_plaintext_beyond_loopback_is_refused_unless_allowed_insecure(
    kind: str, launch: Launch, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    flags = server_command(kind, stack.bootstrap_servers, schema_ids[0], "--metrics-listen", "none")
    by_env = {
        "NEXUS_INGEST__LISTEN": "[::]:0",
        "NEXUS_INGEST__SCHEMA_IDS": str(schema_ids[0]),
        "NEXUS_INGEST__METRICS_LISTEN": "none",
        "NEXUS_KAFKA__BOOTSTRAP_SERVERS": stack.bootstrap_servers,
    }
    bare = [str(CPP_SERVER)] if kind == "cpp" else [*NEXUS, "ingest", "serve"]
    for command, settings in (([*flags, "--listen", "0.0.0.0:0"], {}), (bare, by_env)):
        done = subprocess.run(command, env=server_env(settings), capture_output=True, text=True, timeout=60)
        assert done.returncode == ExitStatus.CONFIG, done.stderr
        lines = [line for line in done.stderr.splitlines() if "allow_insecure" in line]
        assert len(lines) == 1 and "NEXUS_INGEST__ALLOW_INSECURE" in lines[0], done.stderr
        assert '"serving"' not in done.stderr

    for allow, settings in ((["--allow-insecure"], {}), ([], {"NEXUS_INGEST__ALLOW_INSECURE": "true"})):
        server = launch("--listen", "0.0.0.0:0", "--metrics-listen", "none", *allow, settings=settings)
        assert server.events("serving")[0]["listen"] == "0.0.0.0:0"
        with IngestClient(server.url) as c:
            assert c.publish([order_item(2)]).accepted == 1
        assert server.stop() == 0


def test_a_bad_setting_exits_78_and_a_bad_command_line_2(
    kind: str, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]]
) -> None:
    command = server_command(kind, stack.bootstrap_servers, schema_ids[0], "--metrics-listen", "none")
    setting = subprocess.run(
        command,
        env=server_env({"NEXUS_INGEST__MAX_BATCH_EVENTS": "0"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setting.returncode == ExitStatus.CONFIG, setting.stderr
    assert "NEXUS_INGEST__MAX_BATCH_EVENTS" in setting.stderr
    unknown = subprocess.run(
        [*command, "--bogus"], env=server_env(), capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == ExitStatus.USAGE, unknown.stderr
    assert "--bogus" in unknown.stderr


def test_an_unusable_tokens_file_stops_the_start(
    kind: str, stack: StackInfo, schema_ids: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    broken = tmp_path / "tokens.json"
    broken.write_text('{"producers": {"a": {"token_sha256": "not a hash"}}}')
    done = subprocess.run(
        server_command(kind, stack.bootstrap_servers, schema_ids[0], "--metrics-listen", "none"),
        env=server_env({"NEXUS_INGEST__TOKENS_FILE": str(broken)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == ExitStatus.CONFIG, done.stderr
    assert "NEXUS_INGEST__TOKENS_FILE" in done.stderr and "producers.a.token_sha256" in done.stderr
    assert '"serving"' not in done.stderr


# --------------------------------------------------------------------- tokens


def test_a_call_without_a_known_token_is_unauthenticated_before_anything_is_read(
    launch: Launch, tokens_file: Path
) -> None:
    server = with_tokens(launch, tokens_file)
    assert server.events("serving")[0]["auth"] == "tokens (2 producers)"
    with IngestClient(server.url) as anonymous:
        assert MISSING in str(refused(anonymous))
        assert MISSING in str(refused(anonymous, stream=True))
    with IngestClient(server.url, token="guessed") as guessing:
        assert UNKNOWN in str(refused(guessing))
        assert UNKNOWN in str(refused(guessing, stream=True))
    with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as err:
        channel.unary_unary("/keystone.olist.v1.IngestionService/Publish")(
            b"\x0a\xff\xff garbage", timeout=10
        )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, "the token first, then the bytes"

    metrics = scrape_metrics(server.metrics_port)
    assert metrics['nexus_ingest_auth_rejections_total{reason="missing_token"}'] == 3
    assert metrics['nexus_ingest_auth_rejections_total{reason="unknown_token"}'] == 2
    assert metrics['nexus_ingest_calls_total{method="Publish"}'] == 0
    assert metrics['nexus_ingest_calls_total{method="PublishStream"}'] == 0
    assert metrics["nexus_ingest_kafka_produced_total"] == 0
    assert server.stop() == 0


def test_a_producer_publishes_its_entities_only_and_as_itself(
    launch: Launch, tokens_file: Path, stack: StackInfo
) -> None:
    server = with_tokens(launch, tokens_file)
    denied = 'permission denied: producer "items-app" may not publish reviews'
    item, other_item, a_review, all_review = order_item(10), order_item(11), review(12), review(13)
    with IngestClient(server.url, token=ITEMS_TOKEN) as items_app:
        unary = items_app.publish([item, a_review])
        assert [(r.accepted, r.reason) for r in unary.results] == [(True, ""), (False, denied)]
        stream = items_app.publish_stream([[review(14)], [other_item]])
        assert (stream.accepted, stream.rejected) == (1, 1)
        assert [(r.index, r.reason) for r in stream.results] == [(0, denied)]
    with IngestClient(server.url, token=ALL_TOKEN) as everything:
        assert everything.publish([all_review]).accepted == 1

    wanted = {item.event_id, other_item.event_id, all_review.event_id, a_review.event_id}
    reads = read_back(
        stack.bootstrap_servers,
        list(contracts.topics()),
        INTEGRATION_PARTITIONS,
        lambda r: r.event_id in wanted,
        3,
    )
    sources = {r.event_id: r.headers["source"] for r in reads}
    assert sources == {
        item.event_id: b"items-app",
        other_item.event_id: b"items-app",
        all_review.event_id: b"everything",
    }, "the authenticated producer, not the event's own source, and nothing refused written"
    metrics = scrape_metrics(server.metrics_port)
    assert metrics['nexus_ingest_events_rejected_total{reason="permission_denied"}'] == 2
    assert metrics['nexus_ingest_auth_rejections_total{reason="permission_denied"}'] == 2
    assert metrics['nexus_ingest_events_rejected_total{reason="invalid"}'] == 0
    assert server.stop() == 0


def test_under_mutual_tls_the_client_certificate_names_its_producer(
    launch: Launch, tmp_path: Path, stack: StackInfo
) -> None:
    pki = make_pki(tmp_path)  # the client certificate's common name: nexus-client
    producers: dict[str, dict[str, object]] = {
        "cert-app": {"client_cert_cn": "nexus-client", "entities": ["order_items"]},
        "items-app": {"token_sha256": sha256(ITEMS_TOKEN)},
    }
    settings = {
        "NEXUS_INGEST__TLS_CERT": str(pki["server.pem"]),
        "NEXUS_INGEST__TLS_KEY": str(pki["server.key"]),
        "NEXUS_INGEST__TLS_CLIENT_CA": str(pki["ca.pem"]),
        "NEXUS_INGEST__TOKENS_FILE": str(write_tokens(tmp_path / "tokens.json", producers)),
    }
    server = launch("--metrics-listen", "none", settings=settings)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=pki["ca.pem"].read_bytes(),
        private_key=pki["client.key"].read_bytes(),
        certificate_chain=pki["client.pem"].read_bytes(),
    )
    item, by_token = order_item(30), review(32)
    with grpc.secure_channel(server.address, credentials) as channel:
        publish = ingestion_pb2_grpc.IngestionServiceStub(channel).Publish
        answer = publish(ingestion_pb2.PublishRequest(events=[item, review(31)]), timeout=30)
        denied = 'permission denied: producer "cert-app" may not publish reviews'
        assert [(r.accepted, r.reason) for r in answer.results] == [(True, ""), (False, denied)]
        bearer = (("authorization", f"Bearer {ITEMS_TOKEN}"),)
        assert (
            publish(ingestion_pb2.PublishRequest(events=[by_token]), timeout=30, metadata=bearer).accepted
            == 1
        )
        with pytest.raises(grpc.RpcError) as err:
            guessed = (("authorization", "Bearer guessed"),)
            publish(ingestion_pb2.PublishRequest(events=[order_item(33)]), timeout=30, metadata=guessed)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, (
            "a wrong token is refused, certificate or not"
        )
    reads = read_back(
        stack.bootstrap_servers,
        list(contracts.topics()),
        INTEGRATION_PARTITIONS,
        lambda r: r.event_id in {item.event_id, by_token.event_id},
        2,
    )
    assert {r.event_id: r.headers["source"] for r in reads} == {
        item.event_id: b"cert-app",
        by_token.event_id: b"items-app",
    }, "a token, when sent, names the producer over the certificate"
    assert server.stop() == 0


def test_a_rotated_tokens_file_is_read_without_a_restart(launch: Launch, tokens_file: Path) -> None:
    server = with_tokens(launch, tokens_file)
    rotated = "items-secret-2"
    with IngestClient(server.url, token=ITEMS_TOKEN) as old, IngestClient(server.url, token=rotated) as new:
        assert old.publish([order_item(20)]).accepted == 1
        assert UNKNOWN in str(refused(new))
        write_tokens(tokens_file, {"items-app": {"token_sha256": sha256(rotated)}})
        assert new.publish([order_item(21), review(22)]).accepted == 2, "entities left out: every entity"
        assert UNKNOWN in str(refused(old))

        tokens_file.with_suffix(".next").write_text("{ not JSON")
        tokens_file.with_suffix(".next").replace(tokens_file)
        assert new.publish([order_item(23)]).accepted == 1, "a broken file keeps the producers read before"
    (failed,) = server.wait_for_log("tokens_reload_failed")
    assert failed["path"] == str(tokens_file)
    assert [line["producers"] for line in server.events("tokens_reloaded")] == [1]
    assert server.proc.poll() is None and server.stop() == 0


def test_replay_via_sends_the_token_of_its_settings(launch: Launch, tokens_file: Path, dataset: Path) -> None:
    server = with_tokens(launch, tokens_file)
    command = [*NEXUS, "replay", "--from", str(dataset), "--via", server.url, "--no-progress"]
    command += ["--entities", "order_items", "--limit", "20"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_INGEST__")}
    done = subprocess.run(
        command, env={**env, "NEXUS_INGEST__TOKEN": ITEMS_TOKEN}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(line.split()[:4] == ["total", "20", "20", "0"] for line in done.stdout.splitlines()), (
        done.stdout
    )
    anonymous = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert anonymous.returncode != 0
    assert "UNAUTHENTICATED" in anonymous.stderr, anonymous.stderr
    assert server.stop() == 0
