"""The request builder: one checked Event in, the Kafka record (or a reason) out.

Pure. The record is keystone_nexus.contracts.events' encoding, the one the replay tool and the C++
server write: topic `olist.<entity>.v1`, key = key fields joined with '|', value = Glue
header of the entity's schema version + JSON with the Olist column names in field
order, headers event_id, source and entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from keystone.olist.v1 import olist_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.events import KafkaEvent, to_event
from keystone_nexus.ingest.validation import check_event


class RecordBuilder:
    """Builds Kafka records with the schema version ids of every entity."""

    def __init__(self, schema_ids: Mapping[str, UUID]) -> None:
        missing = [e.schema_name for e in contracts.entities() if e.schema_name not in schema_ids]
        if missing:
            raise ValueError(f"no schema version id for {', '.join(missing)}; run `nexus schemas sync`")
        self._versions = {e.name: schema_ids[e.schema_name] for e in contracts.entities()}

    def build(self, event: olist_pb2.Event, *, source: str | None = None) -> KafkaEvent | str:
        """The record, or the reason the event is rejected; `source` (the authenticated
        producer) replaces the event's own in the source header."""
        checked = check_event(event)
        if isinstance(checked, str):
            return checked
        spec = checked.rules.spec
        return to_event(
            spec,
            checked.record,
            self._versions[spec.name],
            event_id=event.event_id,
            source=event.source if source is None else source,
        )
