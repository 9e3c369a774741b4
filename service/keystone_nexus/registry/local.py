"""A schema registry in a local directory: the embedded default, no AWS needed.

Layout (plain JSON files, safe to read by hand)::

    <root>/<schema name>/<version number>.json    {"version_id", "definition", ...}

Version UUIDs are derived from the schema name and definition (uuid5), so two
machines that register the same schemas agree on the ids the wire header carries.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from uuid import UUID

import orjson

from keystone_nexus.errors import IncompatibleSchemaError, SchemaNotFoundError
from keystone_nexus.registry.base import Compatibility, DataFormat, SchemaVersion
from keystone_nexus.registry.compat import backward_problems

_NAMESPACE = uuid.UUID("6f1c3f0e-2b7a-5d8e-9c41-0a5b7e3d9f21")


def version_uuid(schema_name: str, definition: str) -> UUID:
    return uuid.uuid5(_NAMESPACE, f"{schema_name}\n{definition}")


class LocalRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = asyncio.Lock()

    def _versions(self, schema_name: str) -> list[SchemaVersion]:
        directory = self.root / schema_name
        if not directory.is_dir():
            return []
        found = []
        for path in directory.glob("*.json"):
            doc = orjson.loads(path.read_bytes())
            found.append(
                SchemaVersion(
                    schema_name=schema_name,
                    version_id=UUID(doc["version_id"]),
                    version_number=int(doc["version_number"]),
                    definition=doc["definition"],
                    data_format=doc.get("data_format", "JSON"),
                )
            )
        return sorted(found, key=lambda v: v.version_number)

    async def register(
        self,
        schema_name: str,
        definition: str,
        *,
        data_format: DataFormat = "JSON",
        compatibility: Compatibility = "BACKWARD",
    ) -> tuple[SchemaVersion, bool]:
        async with self._lock:
            versions = self._versions(schema_name)
            for existing in versions:
                if existing.definition == definition:
                    return existing, False
            if versions and compatibility != "NONE" and data_format == "JSON":
                checked = versions if compatibility.endswith("_ALL") else versions[-1:]
                for old in checked:
                    problems = backward_problems(old.definition, definition)
                    if problems:
                        raise IncompatibleSchemaError(
                            f"{schema_name}: new version is not {compatibility}-compatible with "
                            f"version {old.version_number}: {'; '.join(problems)}"
                        )
            version = SchemaVersion(
                schema_name=schema_name,
                version_id=version_uuid(schema_name, definition),
                version_number=(versions[-1].version_number + 1) if versions else 1,
                definition=definition,
                data_format=data_format,
            )
            self._write(version)
            return version, True

    def _write(self, version: SchemaVersion) -> None:
        directory = self.root / version.schema_name
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{version.version_number}.json"
        tmp = target.with_suffix(".tmp")
        doc = {
            "version_id": str(version.version_id),
            "version_number": version.version_number,
            "data_format": version.data_format,
            "definition": version.definition,
        }
        tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        os.replace(tmp, target)

    async def get_version(self, version_id: UUID) -> SchemaVersion:
        if self.root.is_dir():
            for directory in self.root.iterdir():
                for version in self._versions(directory.name):
                    if version.version_id == version_id:
                        return version
        raise SchemaNotFoundError(f"schema version {version_id} is not in {self.root}")

    async def latest(self, schema_name: str) -> SchemaVersion:
        versions = self._versions(schema_name)
        if not versions:
            raise SchemaNotFoundError(f"schema {schema_name!r} is not in {self.root}")
        return versions[-1]

    async def close(self) -> None:
        return None
