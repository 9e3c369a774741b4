"""What every schema registry offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from uuid import UUID

DataFormat = Literal["JSON", "AVRO"]
Compatibility = Literal["NONE", "BACKWARD", "BACKWARD_ALL", "FORWARD", "FULL"]


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    schema_name: str
    version_id: UUID
    version_number: int
    definition: str
    data_format: DataFormat = "JSON"


class SchemaRegistry(Protocol):
    async def register(
        self,
        schema_name: str,
        definition: str,
        *,
        data_format: DataFormat = "JSON",
        compatibility: Compatibility = "BACKWARD",
    ) -> tuple[SchemaVersion, bool]:
        """Register `definition` as the newest version of `schema_name`.

        Idempotent: an identical definition returns the existing version. Returns the
        version and whether it was created now.
        """
        ...

    async def get_version(self, version_id: UUID) -> SchemaVersion:
        """The version with this UUID; SchemaNotFoundError if there is none."""
        ...

    async def latest(self, schema_name: str) -> SchemaVersion:
        """The newest version of `schema_name`; SchemaNotFoundError if there is none."""
        ...

    async def close(self) -> None: ...
