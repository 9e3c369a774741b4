"""The bronze tables in a table catalog (the AWS Glue Data Catalog), so Athena sees new
data as soon as it lands, without a crawler.

One external table per entity, ``<table_prefix><entity>`` (``bronze_orders``), over
``<lake_uri>/bronze/<entity>/`` and partitioned by ``dt`` and ``hr`` like the lake
(:mod:`keystone_nexus.sink.naming`). Its columns are the JSON Schema's properties
(string -> string, integer -> bigint, number -> double) followed by the Kafka
coordinates of :data:`keystone_nexus.sink.encode.META_FIELDS`.

* :func:`table_input` and :func:`partition_input` build the Glue requests; they and
  :func:`merged_columns` are pure.
* :class:`GlueCatalog` keeps the catalog in step. ``ensure_table`` creates the table,
  or, when a schema gained columns, adds them (never drops a column: older files still
  hold it; a column that changes type is refused, since Athena could no longer read
  the older files). The update is a read-merge-write with the table's ``VersionId``
  (Glue's optimistic lock), redone from the read when another writer got there first.
  ``ensure_partitions`` remembers the partitions it knows per table (loaded once with
  GetPartitions) and registers only new ones, 100 per BatchCreatePartition; an
  AlreadyExistsException entry (a partition another sink registered) is success.
* :class:`NoCatalog` is the local mode's catalog: it does nothing.

Retries live here and only here (:meth:`GlueCatalog._retry`): errors that say "try
again" (throttling, internal errors, timeouts, concurrent modification, 5xx,
connection errors) are retriable CatalogErrors, retried with exponential backoff and
jitter; every other error is raised at once. A retry redoes a whole step (read, merge,
write), never a stale write. Every request is bounded by the connect and read timeouts
of :class:`~keystone_nexus.aws.clients.AwsOptions`, and timed (and counted as an error when it
fails) in ``calls`` by :meth:`GlueCatalog._request` (service ``glue``, the operation's
API name, e.g. ``BatchCreatePartition``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from functools import partial
from typing import Any, Protocol, TypeVar

import orjson
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.aws.errors import TRANSIENT_CODES, classify
from keystone_nexus.contracts.arrow_schema import json_type, object_properties
from keystone_nexus.errors import CatalogError
from keystone_nexus.ops.metrics import AwsCallMetrics
from keystone_nexus.sink import naming
from keystone_nexus.sink.encode import META_FIELDS

__all__ = [
    "GlueCatalog",
    "NoCatalog",
    "TableCatalog",
    "merged_columns",
    "partition_input",
    "table_input",
    "table_location",
]

T = TypeVar("T")
log = logging.getLogger("keystone_nexus.sink")

BATCH_CREATE_LIMIT = 100  # partitions per BatchCreatePartition, Glue's maximum
PARTITION_KEYS = ("dt", "hr")
HIVE_TYPES = {"string": "string", "integer": "bigint", "number": "double"}
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
TABLE_PARAMETERS = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}

_ALREADY_EXISTS = "AlreadyExistsException"
_NOT_FOUND = "EntityNotFoundException"
_DT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HR = re.compile(r"[0-9]{2}")


class TableCatalog(Protocol):
    """Where the bronze tables are declared for query engines."""

    async def ensure_table(self, entity: str, definition: str) -> None:
        """Create (or update, when the schema gained columns) the bronze table for `entity`
        from the JSON Schema `definition`."""
        ...

    async def ensure_partitions(self, entity: str, hours: Iterable[tuple[str, str]]) -> None:
        """Register each (dt, hr) partition of the entity's bronze table if it is not
        registered yet."""
        ...

    async def close(self) -> None: ...


class NoCatalog:
    """The local mode's catalog: DuckDB reads the lake's directories, nothing to declare."""

    async def ensure_table(self, entity: str, definition: str) -> None:
        return None

    async def ensure_partitions(self, entity: str, hours: Iterable[tuple[str, str]]) -> None:
        return None

    async def close(self) -> None:
        return None


# --- pure: the Glue requests -------------------------------------------------------


def _hive_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_int32(arrow_type):
        return "int"
    if pa.types.is_int64(arrow_type):
        return "bigint"
    if pa.types.is_float64(arrow_type):
        return "double"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    raise TypeError(f"no Hive type for Arrow {arrow_type}")


META_COLUMNS: tuple[dict[str, str], ...] = tuple(
    {"Name": f.name, "Type": _hive_type(f.type)} for f in META_FIELDS
)


def table_location(lake_uri: str, entity: str) -> str:
    """``<lake_uri>/bronze/<entity>/``: where the entity's bronze objects live."""
    return f"{lake_uri.rstrip('/')}/{naming.BRONZE}/{entity}/"


def _payload_columns(definition: str) -> list[dict[str, str]]:
    properties = object_properties(orjson.loads(definition))
    return [{"Name": name, "Type": HIVE_TYPES[json_type(name, prop)[0]]} for name, prop in properties.items()]


def table_input(
    entity: str, definition: str, location: str, *, table_prefix: str = "bronze_"
) -> dict[str, Any]:
    """The Glue TableInput of the entity's bronze table at `location` (see
    :func:`table_location`), with the columns of the JSON Schema `definition`.

    Raises UnsupportedSchemaError for a schema the bronze sink cannot write as columns.
    """
    location = location if location.endswith("/") else f"{location}/"
    return {
        "Name": f"{table_prefix}{entity}",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in PARTITION_KEYS],
        "StorageDescriptor": {
            "Columns": [*_payload_columns(definition), *(dict(c) for c in META_COLUMNS)],
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "Compressed": False,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
            "StoredAsSubDirectories": False,
        },
    }


def partition_input(dt: str, hr: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The Glue PartitionInput of hour (`dt`, `hr`) of `table` (a TableInput, or a Table
    from GetTable): the table's storage descriptor at ``<location>dt=<dt>/hr=<hr>/``."""
    if not _DT.fullmatch(dt) or not _HR.fullmatch(hr):
        raise ValueError(f"not an hour partition: dt={dt!r} hr={hr!r} (want YYYY-MM-DD and HH)")
    descriptor = dict(table["StorageDescriptor"])
    base = str(descriptor["Location"])
    base = base if base.endswith("/") else f"{base}/"
    descriptor["Location"] = f"{base}dt={dt}/hr={hr}/"
    return {"Values": [dt, hr], "StorageDescriptor": descriptor}


def merged_columns(
    existing: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The columns of a table that has `existing` and should show `wanted` (built by
    :func:`table_input`): the existing schema columns in their order, then the wanted
    ones that are new, then the metadata columns. Nothing is dropped: files written
    under an older schema still hold the columns it had.

    Raises a CatalogError when a column would change type: Athena could not read the
    older files any more. Write the new type under a new column name instead.
    """
    meta = {c["Name"] for c in META_COLUMNS}
    have = {str(c["Name"]).lower(): c for c in existing}
    for column in wanted:
        old = have.get(str(column["Name"]).lower())
        if old is not None and str(old["Type"]).lower() != str(column["Type"]).lower():
            raise CatalogError(
                f"column {column['Name']!r} is {old['Type']} in the catalog but {column['Type']} in the "
                "schema: older files could not be read; add a column with a new name instead"
            )
    known = set(have)
    kept = [dict(c) for c in existing if c["Name"] not in meta]
    added = [dict(c) for c in wanted if c["Name"] not in meta and str(c["Name"]).lower() not in known]
    return [*kept, *added, *(dict(c) for c in wanted if c["Name"] in meta)]


def _same_columns(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> bool:
    def key(columns: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
        return [(str(c["Name"]).lower(), str(c["Type"]).lower()) for c in columns]

    return key(a) == key(b)


# --- I/O: the Glue Data Catalog ------------------------------------------------------


def _api_name(operation: str) -> str:
    """The API's name of a client method: get_partitions -> GetPartitions."""
    return "".join(part.capitalize() for part in operation.split("_"))


def _translate(exc: BaseException, what: str) -> CatalogError:
    failure = classify(exc)
    if isinstance(exc, ClientError):
        hint = "Glue unavailable, try again later" if failure.transient else "Glue refused"
        return CatalogError(f"{what}: {hint}: {exc}", code=failure.code, retriable=failure.transient)
    if failure.network:
        return CatalogError(f"{what}: Glue unreachable or not answering: {exc}", retriable=True)
    return CatalogError(f"{what}: {exc}")


class GlueCatalog:
    """A :class:`TableCatalog` over `glue` (an aioboto3 Glue client), keeping the bronze
    tables of `database` over the lake at `lake_uri` (``s3://bucket/prefix``). Usually
    made with :meth:`open`.

    `calls` counts the requests sent, by operation (each try counts).
    """

    def __init__(
        self,
        glue: Any,
        *,
        database: str,
        lake_uri: str,
        table_prefix: str = "bronze_",
        attempts: int = 5,
        calls: AwsCallMetrics | None = None,
    ) -> None:
        if not lake_uri.startswith("s3://"):
            raise ValueError(f"the Glue catalog needs an s3:// lake, got {lake_uri!r}")
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self._glue = glue
        self.database = database
        self.lake_uri = lake_uri.rstrip("/")
        self.table_prefix = table_prefix
        self.attempts = attempts
        self.calls: Counter[str] = Counter()
        self.aws_calls = calls or AwsCallMetrics()
        self._ensured: set[tuple[str, str]] = set()  # (entity, definition) in step
        self._descriptors: dict[str, dict[str, Any]] = {}  # entity -> table storage descriptor
        self._partitions: dict[str, set[tuple[str, str]]] = {}  # entity -> registered (dt, hr)
        self._locks: dict[str, asyncio.Lock] = {}
        self._stack: AsyncExitStack | None = None

    @classmethod
    async def open(
        cls,
        options: AwsOptions,
        *,
        database: str,
        lake_uri: str,
        table_prefix: str = "bronze_",
        attempts: int = 5,
        calls: AwsCallMetrics | None = None,
    ) -> GlueCatalog:
        """A catalog with its own Glue client, released by :meth:`close`; creates the
        database if it is missing."""
        stack = AsyncExitStack()
        glue = await stack.enter_async_context(client(options, "glue"))
        try:
            catalog = cls(
                glue,
                database=database,
                lake_uri=lake_uri,
                table_prefix=table_prefix,
                attempts=attempts,
                calls=calls,
            )
            catalog._stack = stack
            await catalog.ensure_database()
        except BaseException:
            await stack.aclose()
            raise
        return catalog

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def __repr__(self) -> str:
        return f"GlueCatalog(database={self.database!r}, lake_uri={self.lake_uri!r})"

    def table_name(self, entity: str) -> str:
        return f"{self.table_prefix}{entity}"

    # The one place that talks to Glue (_request) and the one retry loop (_retry).

    async def _request(self, what: str, operation: str, **params: Any) -> dict[str, Any]:
        """One try of `operation`, its errors translated to CatalogError."""
        self.calls[operation] += 1
        with self.aws_calls.timed("glue", _api_name(operation)):
            try:
                response: dict[str, Any] = await getattr(self._glue, operation)(**params)
            except (ClientError, BotoCoreError, TimeoutError, ConnectionError) as exc:
                raise _translate(exc, what) from exc
        return response

    async def _retry(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run `step` again while it fails with a retriable error."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(lambda e: getattr(e, "retriable", False)),
            wait=wait_exponential_jitter(multiplier=0.1, max=5.0, jitter=0.1),
            stop=stop_after_attempt(self.attempts),
            reraise=True,
        ):
            with attempt:
                return await step()
        raise AssertionError("unreachable")

    async def _call(self, what: str, operation: str, **params: Any) -> dict[str, Any]:
        return await self._retry(lambda: self._request(what, operation, **params))

    def _lock(self, entity: str) -> asyncio.Lock:
        return self._locks.setdefault(entity, asyncio.Lock())

    # Database and tables.

    async def ensure_database(self) -> None:
        what = f"database {self.database}"
        try:
            await self._call(what, "get_database", Name=self.database)
            return
        except CatalogError as exc:
            if exc.code != _NOT_FOUND:
                raise
        try:
            await self._call(
                what,
                "create_database",
                DatabaseInput={"Name": self.database, "Description": "Keystone Nexus lake tables"},
            )
            log.info("glue database created", extra={"database": self.database})
        except CatalogError as exc:
            if exc.code != _ALREADY_EXISTS:
                raise

    async def ensure_table(self, entity: str, definition: str) -> None:
        if (entity, definition) in self._ensured:
            return
        wanted = table_input(
            entity, definition, table_location(self.lake_uri, entity), table_prefix=self.table_prefix
        )
        async with self._lock(entity):
            if (entity, definition) not in self._ensured:
                self._descriptors[entity] = await self._retry(lambda: self._ensure_table_once(wanted))
                self._ensured.add((entity, definition))

    async def _get_table(self, name: str) -> dict[str, Any] | None:
        try:
            found = await self._request(
                f"table {self.database}.{name}", "get_table", DatabaseName=self.database, Name=name
            )
        except CatalogError as exc:
            if exc.code == _NOT_FOUND:
                return None
            raise
        table: dict[str, Any] = found["Table"]
        return table

    async def _ensure_table_once(self, wanted: dict[str, Any]) -> dict[str, Any]:
        """Read, then create or merge-and-update: one step, redone whole on a retriable
        error (a table created or updated by another writer in between is one)."""
        name = wanted["Name"]
        what = f"table {self.database}.{name}"
        table = await self._get_table(name)
        if table is None:
            try:
                await self._request(what, "create_table", DatabaseName=self.database, TableInput=wanted)
            except CatalogError as exc:
                if exc.code == _ALREADY_EXISTS:
                    raise CatalogError(
                        f"{what}: created meanwhile; reading again", code=exc.code, retriable=True
                    ) from exc
                raise
            log.info("glue table created", extra={"table": name, "database": self.database})
            descriptor: dict[str, Any] = wanted["StorageDescriptor"]
            return descriptor
        existing = table.get("StorageDescriptor", {}).get("Columns", [])
        columns = merged_columns(existing, wanted["StorageDescriptor"]["Columns"])
        if _same_columns(existing, columns):
            current: dict[str, Any] = table["StorageDescriptor"]
            return current
        update = {
            **wanted,
            "Parameters": {**table.get("Parameters", {}), **wanted["Parameters"]},
            "StorageDescriptor": {**wanted["StorageDescriptor"], "Columns": columns},
        }
        version = {"VersionId": table["VersionId"]} if table.get("VersionId") else {}
        await self._request(what, "update_table", DatabaseName=self.database, TableInput=update, **version)
        had = {str(c["Name"]).lower() for c in existing}
        added = [c["Name"] for c in columns if str(c["Name"]).lower() not in had]
        log.info(
            "glue table updated", extra={"table": name, "database": self.database, "columns_added": added}
        )
        updated: dict[str, Any] = update["StorageDescriptor"]
        return updated

    # Partitions.

    async def ensure_partitions(self, entity: str, hours: Iterable[tuple[str, str]]) -> None:
        wanted = set(hours)
        known = self._partitions.get(entity)
        if known is not None and wanted <= known:
            return
        async with self._lock(entity):
            known = await self._known_partitions(entity)
            new = sorted(wanted - known)
            if not new:
                return
            descriptor = self._descriptors.get(entity) or await self._table_descriptor(entity)
            inputs = [partition_input(dt, hr, {"StorageDescriptor": descriptor}) for dt, hr in new]
            for start in range(0, len(inputs), BATCH_CREATE_LIMIT):
                chunk = inputs[start : start + BATCH_CREATE_LIMIT]
                await self._retry(partial(self._create_partitions_once, entity, chunk))
                known.update((p["Values"][0], p["Values"][1]) for p in chunk)

    def _no_table(self, name: str) -> CatalogError:
        return CatalogError(
            f"table {self.database}.{name} does not exist: call ensure_table before ensure_partitions",
            code=_NOT_FOUND,
        )

    async def _table_descriptor(self, entity: str) -> dict[str, Any]:
        name = self.table_name(entity)
        table = await self._retry(lambda: self._get_table(name))
        if table is None:
            raise self._no_table(name)
        descriptor: dict[str, Any] = table["StorageDescriptor"]
        self._descriptors[entity] = descriptor
        return descriptor

    async def _known_partitions(self, entity: str) -> set[tuple[str, str]]:
        """The partitions registered for the entity's table, read from Glue once."""
        known = self._partitions.get(entity)
        if known is not None:
            return known
        name = self.table_name(entity)
        what = f"partitions of {self.database}.{name}"
        known = set()
        token: dict[str, str] = {}
        while True:
            try:
                page = await self._call(
                    what,
                    "get_partitions",
                    DatabaseName=self.database,
                    TableName=name,
                    ExcludeColumnSchema=True,
                    **token,
                )
            except CatalogError as exc:
                if exc.code == _NOT_FOUND:
                    raise self._no_table(name) from exc
                raise
            for partition in page.get("Partitions", []):
                values = partition.get("Values", [])
                if len(values) == len(PARTITION_KEYS):
                    known.add((values[0], values[1]))
            if not page.get("NextToken"):
                break
            token = {"NextToken": page["NextToken"]}
        self._partitions[entity] = known
        return known

    async def _create_partitions_once(self, entity: str, chunk: list[dict[str, Any]]) -> None:
        """One BatchCreatePartition; entries that already exist are fine; a transient
        entry error makes the whole chunk retriable (the rest then already exists)."""
        name = self.table_name(entity)
        what = f"partitions of {self.database}.{name}"
        response = await self._request(
            what,
            "batch_create_partition",
            DatabaseName=self.database,
            TableName=name,
            PartitionInputList=chunk,
        )
        failed = [
            e
            for e in response.get("Errors", [])
            if e.get("ErrorDetail", {}).get("ErrorCode") != _ALREADY_EXISTS
        ]
        if failed:
            detail = failed[0].get("ErrorDetail", {})
            code = str(detail.get("ErrorCode", ""))
            raise CatalogError(
                f"{what}: {len(failed)} of {len(chunk)} partitions not registered, e.g. "
                f"{failed[0].get('PartitionValues')}: {code} {detail.get('ErrorMessage', '')}",
                code=code,
                retriable=code in TRANSIENT_CODES,
            )
        created = len(chunk) - len(response.get("Errors", []))
        if created:
            log.info("glue partitions registered", extra={"table": name, "partitions": created})
