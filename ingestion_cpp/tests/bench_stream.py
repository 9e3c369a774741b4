"""Throughput of the C++ server: order-item events streamed in batches of 500 into a
local broker, timed from the first request to the server's answer (which comes after
every event's delivery report, i.e. end to end into Kafka). Prints figures; asserts
nothing about time.

    .venv/bin/python ingestion_cpp/tests/bench_stream.py [--events 1000000] [--streams 1]

The requests are serialized once up front and sent as raw bytes, so the Python client
costs little next to the server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: bench.harness

from bench.harness import bootstrap_of, proc_cpu_rss, schema_ids, start_broker
from keystone.olist.v1 import ingestion_pb2, olist_pb2
from keystone_nexus.contracts import entities as contracts

BATCH = 500
SERVER = Path(__file__).resolve().parents[1] / "build" / "olist_ingestion_enterprise"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def order_item(n: int) -> olist_pb2.Event:
    """The order item the figures in ingestion_cpp/README.md were measured with."""
    return olist_pb2.Event(
        event_id=str(uuid.uuid4()),
        source="e2e",
        entity=olist_pb2.ENTITY_ORDER_ITEMS,
        order_item=olist_pb2.OrderItem(
            order_id=md5(f"order-{n}"),
            order_item_id=1 + n % 3,
            product_id=md5(f"product-{n}"),
            seller_id=md5(f"seller-{n % 7}"),
            shipping_limit_date="2017-09-19 09:45:35",
            price=58.9 + n,
            freight_value=13.29,
        ),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--streams", type=int, default=1, help="concurrent PublishStream calls")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("-X", action="append", default=[], help="librdkafka property for the server")
    parser.add_argument("--build-threads", type=int, default=1, help="the server's --build-threads")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cpp-bench-"))
    broker = start_broker(tmp, contracts.topics(), args.partitions)
    server = None
    try:
        bootstrap = bootstrap_of(broker)
        ids = schema_ids(tmp)
        x_args = [a for kv in args.X for a in ("-X", kv)]
        server = subprocess.Popen(
            [
                str(SERVER),
                "--listen",
                "127.0.0.1:0",
                "--brokers",
                bootstrap,
                "--schema-ids",
                str(ids),
                "--metrics-listen",
                "127.0.0.1:0",
                "--build-threads",
                str(args.build_threads),
                "--log-level",
                "debug",
                *x_args,
            ],
            stderr=subprocess.PIPE,
        )
        assert server.stderr is not None
        port = metrics_port = None
        for raw in server.stderr:
            line = json.loads(raw)
            if line["event"] == "serving":
                port, metrics_port = line["port"], line["metrics_port"]
                break

        def echo_stream_logs() -> None:
            for raw in server.stderr:  # type: ignore[union-attr]
                if b'"publish_stream"' in raw:
                    print(raw.decode().strip(), file=sys.stderr)

        threading.Thread(target=echo_stream_logs, daemon=True).start()

        distinct = [
            ingestion_pb2.PublishRequest(
                events=[order_item(b * BATCH + i) for i in range(BATCH)]
            ).SerializeToString()
            for b in range(40)
        ]
        per_stream = args.events // args.streams // BATCH
        event_bytes = sum(len(b) for b in distinct) / (len(distinct) * BATCH)

        def stream(offset: int) -> tuple[int, int]:
            # One answer for the whole stream: its counts and its rejected events only.
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                call = channel.stream_unary(
                    "/keystone.olist.v1.IngestionService/PublishStream",
                    request_serializer=None,
                    response_deserializer=ingestion_pb2.PublishResponse.FromString,
                )
                response = call(
                    iter(distinct[(offset + i) % len(distinct)] for i in range(per_stream)), timeout=600
                )
            return response.accepted, response.rejected

        cpu0, _ = proc_cpu_rss(server.pid)
        broker_cpu0, _ = proc_cpu_rss(broker.pid)
        client_cpu0 = time.process_time()
        started = time.perf_counter()
        with ThreadPoolExecutor(args.streams) as pool:
            results = list(pool.map(stream, range(args.streams)))
        elapsed = time.perf_counter() - started
        cpu1, rss = proc_cpu_rss(server.pid)
        broker_cpu1, _ = proc_cpu_rss(broker.pid)
        client_cpu = time.process_time() - client_cpu0
        accepted = sum(a for a, _ in results)
        rejected = sum(r for _, r in results)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
            metrics = answer.read().decode()
        produced = next(
            float(line.split()[1])
            for line in metrics.splitlines()
            if line.startswith("nexus_ingest_kafka_produced_total ")
        )
        per_m = 1e6 / max(accepted, 1)
        print(
            json.dumps(
                {
                    "events": accepted + rejected,
                    "accepted": accepted,
                    "rejected": rejected,
                    "streams": args.streams,
                    "build_threads": args.build_threads,
                    "batch": BATCH,
                    "partitions": args.partitions,
                    "proto_bytes_per_event": round(event_bytes),
                    "seconds": round(elapsed, 2),
                    "events_per_s": round(accepted / elapsed),
                    "server_cpu_s": round(cpu1 - cpu0, 2),
                    "server_cpu_s_per_m_events": round((cpu1 - cpu0) * per_m, 2),
                    "server_peak_rss_mb": round(rss / 1e6),
                    "broker_cpu_s_per_m_events": round((broker_cpu1 - broker_cpu0) * per_m, 2),
                    "client_cpu_s_per_m_events": round(client_cpu * per_m, 2),
                    "kafka_produced_total": int(produced),
                    "load_avg_1m": os.getloadavg()[0],
                }
            )
        )
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
