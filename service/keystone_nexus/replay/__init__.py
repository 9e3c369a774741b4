"""Replaying a dataset: produced to Kafka, or sent through an ingestion server over gRPC."""
