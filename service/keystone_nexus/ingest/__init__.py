"""The gRPC ingestion service in Python: the twin of the C++ server, and its client.

One module per step, named as the C++ server's files for the same role
(ingestion_cpp/src): `validation` (an Event's checks, from the proto options),
`record_builder` (the Kafka record), `producer` (librdkafka with delivery tracking),
`service` (Publish and PublishStream), `metrics` (the /metrics endpoint), `server`
(wiring, health, reflection, shutdown), and `client` (`nexus replay --via` uses it:
replay/via_grpc).
"""

from keystone_nexus.ingest.client import IngestClient, PublishResult, parse_target, record_event

__all__ = ["IngestClient", "PublishResult", "parse_target", "record_event"]
