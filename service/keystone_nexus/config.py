"""Settings: one frozen, typed model; the only place that reads the environment.

Sources, highest priority first: `NEXUS_*` environment variables (`__` separates
nesting, e.g. NEXUS_KAFKA__BOOTSTRAP_SERVERS), a `.env` file (pydantic-settings' dotenv
source: quotes, inline comments and `export` as python-dotenv reads them; its other
variables, such as AWS_*, are left alone), then an optional TOML file (`--config`), then the defaults.
Unknown keys and bad values stop start-up with a ConfigError that names the field and
the variable that sets it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import ConfigError

ENV_PREFIX = "NEXUS_"

# The log levels a setting names, as the C++ server takes them (ops.logs maps them).
LogLevel = Literal["debug", "info", "warn", "error"]
ENV_NESTED = "__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def bootstrap_servers(value: str) -> str:
    """HOST:PORT[,HOST:PORT...]."""
    for server in value.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{server!r} is not host:port")
    return value


class KafkaSettings(_Section):
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka brokers, host:port[,...]")
    group_id: str = Field("keystone-nexus-bronze", description="Consumer group of the bronze sink")
    topics: Annotated[tuple[str, ...], NoDecode] = Field(
        default_factory=contracts.topics, description="Topics to consume, comma-separated"
    )
    topic_pattern: str | None = Field(None, description="Regex of topics to consume instead of `topics`")
    partitions: int = Field(6, ge=1, le=1000, description="Partitions per topic when creating topics")
    client_id: str = "keystone-nexus"
    isolation_level: Literal["read_committed", "read_uncommitted"] = Field(
        "read_committed",
        description="What the lake's consumers read of transactional producers: read_committed "
        "(committed transactions only; lag counts to the last stable offset) or read_uncommitted "
        "(aborted and open transactions too)",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: (
        Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "AWS_MSK_IAM"] | None
    ) = Field(
        None,
        description="AWS_MSK_IAM: MSK IAM access control (OAUTHBEARER with a token signed by the "
        "AWS credentials; needs SASL_SSL, port 9098)",
    )
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    msk_iam_region: str | None = Field(
        None, min_length=1, description="With AWS_MSK_IAM: the MSK cluster's region (default: aws.region)"
    )
    ssl_cafile: Path | None = None

    @field_validator("topics", mode="before")
    @classmethod
    def _topics(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        return bootstrap_servers(value)

    @field_validator("sasl_mechanism")
    @classmethod
    def _sasl_mechanism(cls, value: str | None, info: ValidationInfo) -> str | None:
        protocol = info.data.get("security_protocol")
        if value == "AWS_MSK_IAM" and protocol is not None and protocol != "SASL_SSL":
            raise ValueError(
                f"AWS_MSK_IAM needs security_protocol SASL_SSL (MSK's IAM listener, port 9098), "
                f"not {protocol}: set NEXUS_KAFKA__SECURITY_PROTOCOL=SASL_SSL"
            )
        return value

    @field_validator("sasl_username", "sasl_password")
    @classmethod
    def _no_credentials_with_iam(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("sasl_mechanism") == "AWS_MSK_IAM":
            raise ValueError("AWS_MSK_IAM signs with the AWS credentials, not a SASL user: unset it")
        return value


class LakeSettings(_Section):
    uri: str = Field("file://./.nexus/lake", description="file:///path or s3://bucket/prefix")

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if value.startswith("file://") and len(value) > len("file://"):
            return value
        if value.startswith("s3://") and len(value.removeprefix("s3://").split("/", 1)[0]) >= 3:
            return value.rstrip("/")
        raise ValueError(f"{value!r} is neither file:///path nor s3://bucket/prefix")


class AwsSettings(_Section):
    region: str = "us-east-1"
    endpoint_url: str | None = Field(
        None, description="A local AWS endpoint (moto), e.g. http://127.0.0.1:5000"
    )
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(6, ge=1, le=50, description="Tries per AWS call before it counts as failed")
    max_backoff_s: float = Field(5.0, gt=0, description="Longest wait between two tries")


class RegistrySettings(_Section):
    kind: Literal["local", "glue"] = "local"
    registry_name: str = "keystone-nexus"
    local_path: Path = Path(".nexus/registry")
    cache_ttl_s: float = Field(86_400.0, gt=0)
    cache_max_entries: int = Field(200, ge=1)
    sync_on_start: bool = Field(True, description="Register the contract schemas when the sink starts")


class CatalogSettings(_Section):
    enabled: bool = Field(
        True, description="Register bronze tables and partitions in Glue (s3:// lakes only)"
    )
    database: str = Field("keystone_nexus_bronze", description="Glue database of the bronze tables")
    table_prefix: str = "bronze_"


class MetricsSettings(_Section):
    cloudwatch: bool = Field(False, description="Publish metrics to CloudWatch (PutMetricData)")
    cloudwatch_namespace: str = "KeystoneNexus"
    cloudwatch_interval_s: float = Field(60.0, ge=1, description="Seconds between publishes (and EMF lines)")
    cloudwatch_per_partition: bool = Field(False, description="Also per-partition lag (one metric each)")
    emf: bool = Field(
        False, description="Write the CloudWatch datums as embedded-metric-format JSON lines (for the agent)"
    )
    emf_path: Path | None = Field(None, description="Append the EMF lines to this file (default: stdout)")


def listen_address(value: str) -> str:
    """HOST:PORT with a port of 0-65535 (0: any free)."""
    host, sep, port = value.rpartition(":")
    if not (sep and host and port.isdigit() and int(port) <= 65535):
        raise ValueError(f"{value!r} is not HOST:PORT")
    return value


def metrics_listen_address(value: str) -> str:
    """`none` or HOST:PORT, as the C++ server accepts for --metrics-listen."""
    if value == "none":
        return value
    try:
        return listen_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither HOST:PORT nor none") from None


class DashboardSettings(_Section):
    """`nexus dashboard`: the web page and its read-only JSON API over gold."""

    listen: str = Field(
        "127.0.0.1:8788", description="HOST:PORT the dashboard serves on (loopback by default)"
    )
    status_url: str | None = Field(
        None, description="The sink's health server (default http://HEALTH_HOST:HEALTH_PORT)"
    )
    duckdb: Path | None = Field(None, description="Gold from this DuckDB warehouse (opened read-only)")
    athena_database: str | None = Field(None, description="... or from this Athena database")
    athena_workgroup: str = Field("primary", description="Athena workgroup of the gold queries")
    athena_output: str | None = Field(
        None, description="S3 URI for Athena query results (when the workgroup sets none)"
    )
    static_dir: Path | None = Field(None, description="The built page (default dashboard/dist)")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return listen_address(value)

    @field_validator("athena_database")
    @classmethod
    def _one_gold_source(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("duckdb") is not None:
            raise ValueError(
                "gold comes from DuckDB or Athena, not both: unset NEXUS_DASHBOARD__DUCKDB or this"
            )
        return value


class IngestSettings(_Section):
    """The gRPC ingestion servers' settings (the C++ server reads the same variables)."""

    listen: str = Field(
        "127.0.0.1:50051",
        description="HOST:PORT the ingestion server serves gRPC on; an address other than loopback "
        "needs TLS (tls_cert, tls_key) or allow_insecure",
    )
    schema_ids: Path | None = Field(None, description="JSON from `nexus schemas sync --ids-out`")
    client_id: str = "keystone-nexus-ingest"
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    max_batch_events: int = Field(10_000, ge=1)
    max_message_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    queue_full_timeout_ms: int = Field(2_000, ge=0)
    max_stream_rejections: int = Field(
        10_000, ge=1, description="Rejected events a stream may collect before it is answered early"
    )
    build_threads: int = Field(1, ge=0, le=64, description="C++ server: threads encoding stream messages")
    metrics_listen: str = Field(
        "127.0.0.1:9464",
        description="HOST:PORT of the Prometheus /metrics endpoint (port 0: any free), or none",
    )
    tls_cert: Path | None = Field(None, description="PEM certificate (chain) for TLS on the gRPC listener")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    tls_client_ca: Path | None = Field(None, description="PEM CA bundle: require client certificates (mTLS)")
    allow_insecure: bool = Field(
        False,
        description="Serve plaintext on an address other than loopback (anyone on the network can read it)",
    )
    tokens_file: Path | None = Field(
        None,
        description="JSON of the producers who may publish: {producers: {NAME: {token_sha256, entities}}}; "
        "set: every call needs `authorization: Bearer <token>` (re-read when it changes)",
    )
    token: SecretStr | None = Field(
        None, description="Client side (`nexus replay --via`): the bearer token sent to the ingestion server"
    )
    shutdown_grace_s: float = Field(30.0, ge=0)
    log_level: LogLevel = Field("info", description="Level of the servers' JSON log")

    @field_validator("metrics_listen")
    @classmethod
    def _metrics_listen(cls, value: str) -> str:
        return metrics_listen_address(value)


class HealthSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    liveness_bound_s: float = Field(
        30.0,
        gt=0,
        description="/healthz answers 503 once the consume loop has not run for this long "
        "(keep it below systemd's WatchdogSec)",
    )


class SinkSettings(_Section):
    max_batch_records: int = Field(200_000, ge=1, description="Cut a partition's batch at this many records")
    max_batch_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="... or this many buffered bytes")
    max_latency_s: float = Field(60.0, gt=0, description="... or when its oldest record waited this long")
    idle_flush_s: float = Field(
        2.0, gt=0, description="Flush a partition read to its end once nothing new came for this long"
    )
    caught_up_flush_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="... or at once, when it holds at least this many bytes (the end of a backlog)",
    )
    memory_budget_bytes: int = Field(
        256 * 1024 * 1024, ge=1024 * 1024, description="Buffered bytes over all partitions before pausing"
    )
    compression: Literal["snappy", "zstd"] = "snappy"
    writer: Literal["pyarrow", "fastparquet"] = "pyarrow"
    tombstones: Literal["dlq", "skip"] = Field(
        "dlq", description="Dead-letter null values, or skip and count"
    )
    fetch_max_records: int = Field(10_000, ge=1)
    time_fields: dict[str, str] = Field(
        default_factory=dict,
        description='Topics whose dt/hr come from a payload timestamp, as JSON: {"topic": "field"}',
    )
    max_payload_hours: int = Field(
        24,
        ge=1,
        le=10_000,
        description="With time_fields: payload hours one batch may write; rows of the others "
        "(late, out-of-order) go to their arrival hour, so no batch writes a file per stray hour",
    )
    max_timestamp_ahead_s: float = Field(
        86_400.0,
        gt=0,
        description="A record whose Kafka timestamp is further than this after its ingestion is "
        "dead-lettered as unplaceable (e.g. microseconds written as milliseconds), not given an hour "
        "partition thousands of years ahead",
    )
    dead_letter_topic: str | None = Field(
        None, description="Also produce dead-lettered records to this topic (the lake's dlq/ always has them)"
    )
    encode_processes: int = Field(
        1, ge=0, le=64, description="Worker processes for validation and Parquet encoding (0: threads)"
    )
    worker_threads: int = Field(
        2, ge=1, le=64, description="Threads for validation and Parquet encoding when encode_processes is 0"
    )
    drain_timeout_s: float = Field(30.0, gt=0, description="Bound on the flush at shutdown or revocation")
    on_offset_out_of_range: Literal["halt", "skip"] = Field(
        "halt",
        description="A checkpoint below the log start or beyond its end: halt the partition, or skip "
        "(record the gap under _gaps/ and move the checkpoint to the log start)",
    )
    out_of_range_confirm_s: float = Field(
        15.0,
        ge=0,
        description="How long a checkpoint must stay beyond the partition's high-water mark before "
        "it counts as out of range (a new leader's mark can lag for a moment)",
    )
    kafka_commit_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Bound on the consumer-group offset commit after a batch; past it the commit is "
        "skipped and counted (the lake checkpoint holds the position)",
    )
    log_level: LogLevel = Field(
        "info", description="Level of the sink's JSON log (`nexus run --log-level` overrides it)"
    )
    crash_at: str | None = Field(None, description="Testing aid: exit at a commit step, e.g. after_data:3")


class StateSettings(_Section):
    dsn: str | None = Field(
        None,
        description="PostgreSQL (Amazon RDS) for operational state, postgresql://user:password@host:port/db "
        "(may be an aws-secretsmanager: reference); unset: the sink keeps all its state in the lake. "
        "Set: the daemon migrates the schema nexus at start and records every batch in nexus.batches",
    )
    iam_auth: bool = Field(
        False,
        description="Log in with an RDS IAM authentication token (signed from the AWS credentials, "
        "fresh for each connection, over TLS) instead of the DSN's password",
    )
    checkpoints: Literal["lake", "postgres"] = Field(
        "lake",
        description="Where the partition checkpoints live: in the lake (conditional puts), or in "
        "PostgreSQL (compare-and-swap on a row version; for object stores that ignore conditional "
        "writes). postgres needs dsn",
    )

    @field_validator("dsn")
    @classmethod
    def _dsn(cls, value: str | None) -> str | None:
        if value is None or value.startswith(("postgresql://", "postgres://", "aws-secretsmanager:")):
            return value
        raise ValueError("expected postgresql://user:password@host:port/database")

    @model_validator(mode="after")
    def _checkpoints_need_dsn(self) -> StateSettings:
        if self.checkpoints == "postgres" and self.dsn is None:
            raise ValueError("checkpoints=postgres needs dsn (NEXUS_STATE__DSN)")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED,
        # `NEXUS_X=` (an environment file's way of leaving a line in) means unset, as the
        # C++ server, which reads the same file, takes it.
        env_ignore_empty=True,
        # The .env file's other variables (AWS_*, the C++ server's) are not settings;
        # unknown NEXUS_* names there are refused by load_settings, naming them.
        dotenv_filtering="only_existing",
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    state: StateSettings = Field(default_factory=StateSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment, then the .env file (pydantic-settings' own dotenv source), then
        # the TOML file (passed in by load_settings), then the defaults.
        return env_settings, dotenv_settings, init_settings


def _known_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(f"{ENV_PREFIX}{name.upper()}")
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            for sub in section.model_fields:
                names.add(f"{ENV_PREFIX}{name.upper()}{ENV_NESTED}{sub.upper()}")
    return names


def _env_name(loc: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + ENV_NESTED.join(str(part).upper() for part in loc)


def _read_env_file(path: Path) -> dict[str, str]:
    """The variables of a .env file as pydantic-settings reads them (python-dotenv:
    quotes, inline comments, `export`), for the check of unknown names."""
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def load_settings(config_file: Path | None = None, *, env_file: Path | None = Path(".env")) -> Settings:
    """Build the settings or raise ConfigError naming every bad field."""
    known = _known_env_names()
    dotenv = _read_env_file(env_file) if env_file is not None and env_file.is_file() else {}
    for origin, names in (("environment", os.environ), (str(env_file), dotenv)):
        unknown = sorted(n for n in names if n.startswith(ENV_PREFIX) and n.upper() not in known)
        if unknown:
            raise ConfigError(
                f"unknown setting {', '.join(unknown)} in the {origin}; "
                f"known settings: {', '.join(sorted(known))}"
            )
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            file_values = tomllib.loads(config_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {config_file}: {exc}") from exc
    try:
        return Settings(_env_file=env_file if dotenv else None, **file_values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(p) for p in loc)
            problems.append(f"{field} (env {_env_name(loc)}): {error['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
