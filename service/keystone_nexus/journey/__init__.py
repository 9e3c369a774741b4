"""The whole journey in one call: local stack, a generated Olist dataset with deliberately
bad events, the gRPC ingestion server, the bronze sink, the transform, and a summary.
`nexus demo` (and so `make demo`), the end-to-end tests and the journey benchmark run it."""

from keystone_nexus.journey.processes import JourneyError, Sample
from keystone_nexus.journey.report import render
from keystone_nexus.journey.run import JourneyOptions, JourneyResult, run_journey

__all__ = ["JourneyError", "JourneyOptions", "JourneyResult", "Sample", "render", "run_journey"]
