"""The AWS Glue Schema Registry through aioboto3.

Retries live here and only here: transient failures (throttling, 5xx, connection
errors) are retried with exponential backoff and jitter; a missing schema or an
incompatible version is answered at once. Each try is timed, and counted as an error
when it fails, in ``calls`` (service ``glue``, the Glue operation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, TypeVar
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.aws.errors import classify, error_code
from keystone_nexus.errors import (
    IncompatibleSchemaError,
    NexusError,
    RegistryError,
    RegistryUnavailableError,
    SchemaNotFoundError,
)
from keystone_nexus.ops.metrics import AwsCallMetrics
from keystone_nexus.registry.base import Compatibility, DataFormat, SchemaVersion

T = TypeVar("T")

_NOT_FOUND = {"EntityNotFoundException"}


def _translate(exc: Exception, what: str) -> NexusError:
    code = error_code(exc)
    if code in _NOT_FOUND:
        return SchemaNotFoundError(f"{what}: not found in the Glue Schema Registry ({code})")
    if code == "InvalidInputException" and "compatib" in str(exc).lower():
        return IncompatibleSchemaError(f"{what}: {exc}")
    if classify(exc).transient:
        return RegistryUnavailableError(f"{what}: Glue Schema Registry unavailable: {exc}")
    return RegistryError(f"{what}: {exc}")


class GlueRegistry:
    def __init__(
        self, glue: Any, registry_name: str, *, attempts: int = 5, calls: AwsCallMetrics | None = None
    ) -> None:
        self._glue = glue
        self.registry_name = registry_name
        self._attempts = attempts
        self.calls = calls or AwsCallMetrics()
        self._stack: AsyncExitStack | None = None

    @classmethod
    async def open(
        cls,
        options: AwsOptions,
        registry_name: str,
        *,
        attempts: int = 5,
        calls: AwsCallMetrics | None = None,
    ) -> GlueRegistry:
        stack = AsyncExitStack()
        glue = await stack.enter_async_context(client(options, "glue"))
        registry = cls(glue, registry_name, attempts=attempts, calls=calls)
        registry._stack = stack
        return registry

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def _call(self, what: str, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """The one retry loop; each try timed as `operation`."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: getattr(e, "retriable", False)),
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0),
            stop=stop_after_attempt(self._attempts),
            reraise=True,
        ):
            with attempt, self.calls.timed("glue", operation):
                try:
                    return await call()
                except (ClientError, BotoCoreError) as exc:
                    raise _translate(exc, what) from exc
        raise AssertionError("unreachable")

    def _schema_id(self, schema_name: str) -> dict[str, str]:
        return {"RegistryName": self.registry_name, "SchemaName": schema_name}

    async def ensure_registry(self) -> None:
        try:
            await self._call(
                f"registry {self.registry_name}",
                "CreateRegistry",
                lambda: self._glue.create_registry(RegistryName=self.registry_name),
            )
        except NexusError as exc:
            if "AlreadyExists" not in str(exc.__cause__ or exc):
                raise

    async def register(
        self,
        schema_name: str,
        definition: str,
        *,
        data_format: DataFormat = "JSON",
        compatibility: Compatibility = "BACKWARD",
    ) -> tuple[SchemaVersion, bool]:
        what = f"schema {schema_name}"
        try:
            found = await self._call(
                what,
                "GetSchemaByDefinition",
                lambda: self._glue.get_schema_by_definition(
                    SchemaId=self._schema_id(schema_name), SchemaDefinition=definition
                ),
            )
            return await self.get_version(UUID(found["SchemaVersionId"])), False
        except SchemaNotFoundError:
            pass
        try:
            await self._call(
                what, "GetSchema", lambda: self._glue.get_schema(SchemaId=self._schema_id(schema_name))
            )
        except SchemaNotFoundError:
            created = await self._call(
                what,
                "CreateSchema",
                lambda: self._glue.create_schema(
                    RegistryId={"RegistryName": self.registry_name},
                    SchemaName=schema_name,
                    DataFormat=data_format,
                    Compatibility=compatibility,
                    SchemaDefinition=definition,
                ),
            )
            return await self.get_version(UUID(created["SchemaVersionId"])), True
        registered = await self._call(
            what,
            "RegisterSchemaVersion",
            lambda: self._glue.register_schema_version(
                SchemaId=self._schema_id(schema_name), SchemaDefinition=definition
            ),
        )
        if registered.get("Status") == "FAILURE":
            raise IncompatibleSchemaError(
                f"{what}: Glue rejected the new version as not {compatibility}-compatible"
            )
        return await self.get_version(UUID(registered["SchemaVersionId"])), True

    def _version(self, doc: dict[str, Any], schema_name: str | None = None) -> SchemaVersion:
        name = schema_name or str(doc.get("SchemaArn", "")).rsplit("/", 1)[-1]
        return SchemaVersion(
            schema_name=name,
            version_id=UUID(doc["SchemaVersionId"]),
            version_number=int(doc["VersionNumber"]),
            definition=doc["SchemaDefinition"],
            data_format=doc.get("DataFormat", "JSON"),
        )

    async def get_version(self, version_id: UUID) -> SchemaVersion:
        doc = await self._call(
            f"schema version {version_id}",
            "GetSchemaVersion",
            lambda: self._glue.get_schema_version(SchemaVersionId=str(version_id)),
        )
        return self._version(doc)

    async def latest(self, schema_name: str) -> SchemaVersion:
        doc = await self._call(
            f"schema {schema_name}",
            "GetSchemaVersion",
            lambda: self._glue.get_schema_version(
                SchemaId=self._schema_id(schema_name),
                SchemaVersionNumber={"LatestVersion": True},
            ),
        )
        return self._version(doc, schema_name)
