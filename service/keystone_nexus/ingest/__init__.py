"""The gRPC ingestion service in Python: the twin of the C++ server, and its client.

One module per step: `rules` (an Event's checks, from the proto options), `build` (the
Kafka record), `producer` (librdkafka with delivery tracking), `service` (Publish and
PublishStream), `metrics` (the /metrics endpoint), `server` (wiring, health, reflection,
shutdown), `client` and `replay` (`nexus replay --via`).
"""

from keystone_nexus.ingest.client import IngestClient, PublishResult, parse_target, record_event

__all__ = ["IngestClient", "PublishResult", "parse_target", "record_event"]
