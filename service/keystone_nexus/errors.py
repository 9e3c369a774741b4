"""The exception tree of Keystone Nexus.

    NexusError                      every error the service raises on purpose
    ├── ConfigError                 bad settings: start-up stops, naming the field
    │   └── SecretUnavailableError  Secrets Manager unreachable, throttled or failing while a
    │                               setting's reference was resolved (retriable)
    ├── RegistryError               schema registry problems
    │   ├── SchemaNotFoundError     no such schema or version (fatal for the record)
    │   ├── IncompatibleSchemaError a new version breaks the compatibility mode
    │   └── RegistryUnavailableError  registry unreachable or throttled (retriable)
    ├── StoreError                  lake object store problems
    │   ├── PreconditionFailedError a conditional put lost (if_match / if_none_match)
    │   ├── FencingUnsupportedError the store ignores conditional writes: no exactly-once
    │   └── StoreUnavailableError   store unreachable, throttled or failing (retriable)
    ├── CatalogError                table catalog (Glue Data Catalog) problems; `code` is the
    │                               AWS error code, `retriable` set when unreachable or throttled
    ├── MskIamError                 no MSK IAM token could be signed (no AWS credentials,
    │                               or finding them took too long); `retriable` set on timeouts
    ├── StateError                  (state) the PostgreSQL state database refused a request or
    │   │                           holds a schema this release does not know
    │   ├── StateNotConfiguredError no state database (state.dsn unset) for a reader that needs one
    │   ├── StateNotMigratedError   it has no schema nexus yet: run `nexus state migrate`
    │   └── StateUnavailableError   it is unreachable or failing (retriable)
    ├── KafkaUnavailableError       Kafka did not answer a command in time (retriable)
    ├── StartupError                a dependency refused the sink at start-up in a way
    │                               waiting cannot fix (e.g. Kafka refused the credentials)
    ├── StackError                  the local dev stack could not start or stop
    │   └── DevStackError           (dev/stack) a process, port or state dir of the stack
    │       └── StackAlreadyRunningError  a stack with other settings runs in the state dir
    ├── GoldError                   the dashboard's gold queries (DuckDB or Athena) failed
    │   ├── GoldNotBuiltError       no gold tables yet: run the transform first
    │   └── GoldUnavailableError    the warehouse is busy, unreachable or slow (retriable)
    ├── IngestError                 an ingestion server refused or failed a call; `code` is
    │                               the gRPC status, `retriable` set when trying later can help
    ├── UsageError                  (cli) arguments that parse but cannot go together,
    │                               e.g. an inverted offset range
    ├── UnknownEntityError          (contracts/entities) no such entity or topic
    ├── UnsupportedSchemaError      (contracts/arrow_schema) a schema the bronze columns
    │   │                           cannot hold: its records are dead-lettered
    │   └── AvroSchemaError         (contracts/avro_batch) the same, for an Avro schema
    ├── DatasetError                (olist/reader) a dataset folder or file that cannot be read
    ├── RangeReadError              (kafka/range_reader) an offset range Kafka cannot give back
    ├── BatchStartError             (sink/continuity) a batch that does not start at the
    │                               checkpoint: nothing written, the partition rewinds
    ├── RedriveError                (repair/redrive) a dead-letter re-drive that cannot go on
    ├── ReprocessError              (repair/reprocess) a reprocess that cannot go on
    ├── TransformError              (dev/transform) a dbt or Great Expectations step failed
    └── JourneyError                (journey) a stage of the demo journey failed

Raised and caught inside one module, never escaping it (tests/unit/test_error_tree.py
keeps this list and the tree honest): WireFormatError and RecordInvalid (a record's
dead-letter reason), MalformedMessage (the twin's INVALID_ARGUMENT answer),
StartupAborted (a stop while start-up waits), _Unsupported (validate_batch's slow path),
_NotBulk (a CSV olist.bulk_reader leaves to the per-row reader).

`retriable` tells callers whether trying again can help; retry loops read it instead of
matching on types. `exit_status` is how the command line ends on the error
(:func:`exit_status`): a retriable error is UNAVAILABLE whatever its class; otherwise

    CONFIG       ConfigError, StartupError, FencingUnsupportedError, MskIamError
    DATA         DatasetError, SchemaNotFoundError, IncompatibleSchemaError,
                 UnsupportedSchemaError (and AvroSchemaError)
    USAGE        UsageError, UnknownEntityError (an entity or topic named on the command line)
    FAILED       every other one
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """How `nexus` ends; sysexits.h's numbers where one fits. The one list of them:
    `nexus --help` and the operator's guide print :data:`EXIT_STATUSES`."""

    OK = 0
    FAILED = 1
    USAGE = 2
    DATA = 65  # EX_DATAERR
    UNAVAILABLE = 69  # EX_UNAVAILABLE
    SOFTWARE = 70  # EX_SOFTWARE
    CONFIG = 78  # EX_CONFIG
    INTERRUPTED = 130  # 128 + SIGINT


EXIT_STATUSES: dict[ExitStatus, str] = {
    ExitStatus.OK: "done",
    ExitStatus.FAILED: "done, but something did not balance (rows rejected, events not acknowledged, "
    "GX failed), or the command could not go on; the last line on stderr says which",
    ExitStatus.USAGE: "the command line is wrong (an option, a value, an entity name): see the "
    "command's --help",
    ExitStatus.DATA: "the input data is wrong: a dataset file or header, a schema the registry or "
    "the bronze columns refuse",
    ExitStatus.UNAVAILABLE: "a dependency did not answer (Kafka, S3, the Glue registry or catalog, "
    "an ingestion server): run it again once it is up",
    ExitStatus.SOFTWARE: "a bug: the traceback is on stderr; please report it",
    ExitStatus.CONFIG: "a setting cannot be used (the message names it and its NEXUS_* variable): "
    "fix it; restarting as is cannot help",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
}


class NexusError(Exception):
    retriable: bool = False
    exit_status: ExitStatus = ExitStatus.FAILED


def exit_status(exc: NexusError) -> ExitStatus:
    """How the command line ends on `exc`: UNAVAILABLE when trying again can help, else
    what its class says."""
    return ExitStatus.UNAVAILABLE if exc.retriable else exc.exit_status


class ConfigError(NexusError):
    """Settings that cannot be used; the message names the field and what to do."""

    exit_status = ExitStatus.CONFIG


class UsageError(NexusError):
    """Arguments each fine alone that cannot go together (`--from-offset` after
    `--to-offset`); the message names them and what to give instead."""

    exit_status = ExitStatus.USAGE


class SecretUnavailableError(ConfigError):
    retriable = True


class RegistryError(NexusError):
    pass


class SchemaNotFoundError(RegistryError):
    exit_status = ExitStatus.DATA


class IncompatibleSchemaError(RegistryError):
    exit_status = ExitStatus.DATA


class RegistryUnavailableError(RegistryError):
    retriable = True


class StoreError(NexusError):
    pass


class PreconditionFailedError(StoreError):
    """A conditional put found another version than the one it was told to expect:
    read the object again and decide; retrying the same put cannot help."""


class FencingUnsupportedError(StoreError):
    """The object store accepted a conditional put it should have refused (the fence
    probe at start-up): it cannot fence a zombie owner, so the sink refuses to start."""

    exit_status = ExitStatus.CONFIG


class StoreUnavailableError(StoreError):
    retriable = True


class CatalogError(NexusError):
    """The table catalog refused or failed a call. `code` is the AWS error code ("" when
    there is none); `retriable` is True when the catalog was unreachable, throttled or
    failing, so trying again later can help."""

    def __init__(self, message: str, *, code: str = "", retriable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable


class MskIamError(NexusError):
    """No token for MSK IAM access control could be signed: the AWS credential chain
    (AWS_* variables, a profile, the instance or task role) gave no credentials, or took
    too long (`retriable`). The message never holds a token or a key."""

    exit_status = ExitStatus.CONFIG

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class StateError(NexusError):
    """The state database refused a request, or holds a schema this release does not know."""


class StateUnavailableError(StateError):
    retriable = True


class StateNotConfiguredError(StateError):
    """A reader of the ledger (the dashboard's pipeline routes) was started without
    state.dsn: NEXUS_STATE__DSN names the state database."""


class StateNotMigratedError(StateError):
    """The state database has no schema nexus (or not its tables) yet: `nexus state
    migrate` creates it, as the sink does at start."""


class KafkaUnavailableError(NexusError):
    """Kafka did not answer a command (counts, replay, reprocess): its brokers are down
    or the bootstrap servers are wrong; trying again once it is up can help."""

    retriable = True


class StartupError(NexusError):
    """A dependency answered at start-up, but with a refusal that trying again cannot
    change (Kafka refused the credentials, an unsupported broker...); the sink exits."""

    exit_status = ExitStatus.CONFIG


class StackError(NexusError):
    pass


class GoldError(NexusError):
    """A gold query of the dashboard failed; the message says which and why."""


class GoldNotBuiltError(GoldError):
    """The gold tables are not there (no DuckDB file, no schema or no table): run the
    transform (`nexus transform --lake DIR --duckdb FILE`) and ask again."""


class GoldUnavailableError(GoldError):
    """The warehouse could not answer now (file locked by a running transform, Athena
    throttled or too slow); asking again later can help."""

    retriable = True


class IngestError(NexusError):
    """An ingestion server refused or failed a whole call. `code` is the gRPC status name
    (e.g. "INVALID_ARGUMENT" for an oversize batch: split it); `retriable` is True for
    RESOURCE_EXHAUSTED (the server's Kafka queue was full; nothing was written) and
    UNAVAILABLE, where sending the same call again later can help."""

    def __init__(self, message: str, *, code: str = "", retriable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable
