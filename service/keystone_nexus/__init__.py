"""Keystone Nexus: e-commerce events from gRPC through Kafka into an exactly-once Parquet lake."""

from keystone_nexus._version import __version__

__all__ = ["__version__"]
