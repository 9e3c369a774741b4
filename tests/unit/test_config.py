import os
from pathlib import Path

import pytest

from keystone_nexus.config import Settings, load_settings
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in [k for k in os.environ if k.startswith("NEXUS_")]:
        monkeypatch.delenv(key)


def test_defaults_are_the_embedded_local_mode(tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "none.env")
    assert settings.lake.uri.startswith("file://")
    assert settings.registry.kind == "local"
    assert settings.kafka.topics == contracts.topics()
    assert settings.health.host == "127.0.0.1"


def test_environment_names_users_rely_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEXUS_KAFKA__BOOTSTRAP_SERVERS", "b1:9092,b2:9092")
    monkeypatch.setenv("NEXUS_KAFKA__GROUP_ID", "g")
    monkeypatch.setenv("NEXUS_KAFKA__TOPICS", "olist.orders.v1, olist.payments.v1")
    monkeypatch.setenv("NEXUS_LAKE__URI", "s3://bucket/prefix")
    monkeypatch.setenv("NEXUS_AWS__ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("NEXUS_AWS__REGION", "sa-east-1")
    monkeypatch.setenv("NEXUS_REGISTRY__KIND", "glue")
    monkeypatch.setenv("NEXUS_HEALTH__PORT", "9000")
    s = load_settings(env_file=None)
    assert s.kafka.bootstrap_servers == "b1:9092,b2:9092"
    assert s.kafka.group_id == "g"
    assert s.kafka.topics == ("olist.orders.v1", "olist.payments.v1")
    assert s.lake.uri == "s3://bucket/prefix"
    assert s.aws.endpoint_url == "http://127.0.0.1:5000"
    assert s.aws.region == "sa-east-1"
    assert s.registry.kind == "glue"
    assert s.health.port == 9000


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_settings(env_file=None)
    with pytest.raises(Exception, match="frozen"):
        s.kafka.group_id = "other"  # type: ignore[misc]


def test_unknown_environment_key_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_KAFKA__BOOTSTRAP_SERVER", "x:1")
    with pytest.raises(ConfigError, match="NEXUS_KAFKA__BOOTSTRAP_SERVER"):
        load_settings(env_file=None)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("NEXUS_HEALTH__PORT", "eighty", "health.port"),
        ("NEXUS_REGISTRY__KIND", "confluent", "registry.kind"),
        ("NEXUS_LAKE__URI", "ftp://x", "lake.uri"),
        ("NEXUS_KAFKA__BOOTSTRAP_SERVERS", "nohost", "kafka.bootstrap_servers"),
        ("NEXUS_KAFKA__ISOLATION_LEVEL", "read_everything", "kafka.isolation_level"),
        ("NEXUS_INGEST__METRICS_LISTEN", "9464", "ingest.metrics_listen"),
        ("NEXUS_INGEST__METRICS_LISTEN", "127.0.0.1:http", "ingest.metrics_listen"),
    ],
)
def test_bad_values_name_the_field(monkeypatch: pytest.MonkeyPatch, key: str, value: str, field: str) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    assert field in str(info.value) and key in str(info.value)


@pytest.mark.parametrize("protocol", [None, "PLAINTEXT", "SSL", "SASL_PLAINTEXT"])
def test_msk_iam_without_sasl_ssl_stops_the_start_naming_the_field(
    monkeypatch: pytest.MonkeyPatch, protocol: str | None
) -> None:
    monkeypatch.setenv("NEXUS_KAFKA__SASL_MECHANISM", "AWS_MSK_IAM")
    if protocol is not None:
        monkeypatch.setenv("NEXUS_KAFKA__SECURITY_PROTOCOL", protocol)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file=None)
    message = str(info.value)
    assert "kafka.sasl_mechanism (env NEXUS_KAFKA__SASL_MECHANISM)" in message
    assert (
        f"needs security_protocol SASL_SSL (MSK's IAM listener, port 9098), not {protocol or 'PLAINTEXT'}"
        in message
    )


def test_msk_iam_over_sasl_ssl_takes_the_aws_region_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_KAFKA__SASL_MECHANISM", "AWS_MSK_IAM")
    monkeypatch.setenv("NEXUS_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    kafka = load_settings(env_file=None).kafka
    assert (kafka.sasl_mechanism, kafka.msk_iam_region) == ("AWS_MSK_IAM", None)
    monkeypatch.setenv("NEXUS_KAFKA__MSK_IAM_REGION", "eu-west-1")
    assert load_settings(env_file=None).kafka.msk_iam_region == "eu-west-1"


@pytest.mark.parametrize("field", ["sasl_username", "sasl_password"])
def test_msk_iam_refuses_a_sasl_user_naming_the_field(monkeypatch: pytest.MonkeyPatch, field: str) -> None:
    monkeypatch.setenv("NEXUS_KAFKA__SASL_MECHANISM", "AWS_MSK_IAM")
    monkeypatch.setenv("NEXUS_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv(f"NEXUS_KAFKA__{field.upper()}", "nexus")
    with pytest.raises(
        ConfigError, match=rf"kafka\.{field} \(env NEXUS_KAFKA__{field.upper()}\): .*AWS_MSK_IAM"
    ):
        load_settings(env_file=None)


def test_a_metrics_address_set_anywhere_counts_as_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingestion twin fails its start on a taken address only when one was chosen."""
    default = load_settings(env_file=None).ingest
    assert (default.metrics_listen, "metrics_listen" in default.model_fields_set) == ("127.0.0.1:9464", False)
    monkeypatch.setenv("NEXUS_INGEST__METRICS_LISTEN", "127.0.0.1:9464")
    chosen = load_settings(env_file=None).ingest
    assert "metrics_listen" in chosen.model_fields_set
    monkeypatch.setenv("NEXUS_INGEST__METRICS_LISTEN", "none")
    assert load_settings(env_file=None).ingest.metrics_listen == "none"


def test_toml_file_with_environment_on_top(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "nexus.toml"
    config.write_text(
        '[kafka]\ngroup_id = "from-file"\nclient_id = "file-client"\n[lake]\nuri = "s3://bkt/p"\n'
    )
    monkeypatch.setenv("NEXUS_KAFKA__GROUP_ID", "from-env")
    s = load_settings(config, env_file=None)
    assert s.kafka.group_id == "from-env"
    assert s.kafka.client_id == "file-client"
    assert s.lake.uri == "s3://bkt/p"


def test_unknown_key_in_toml_names_it(tmp_path: Path) -> None:
    config = tmp_path / "nexus.toml"
    config.write_text("[kafka]\ngroupid = 'x'\n")
    with pytest.raises(ConfigError, match=r"kafka\.groupid"):
        load_settings(config, env_file=None)


def test_dotenv_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "NEXUS_KAFKA__GROUP_ID=dotenv-group\n# comment\nNEXUS_REGISTRY__KIND='glue'\nAWS_ACCESS_KEY_ID=testing\n"
    )
    s = load_settings(env_file=env)
    assert s.kafka.group_id == "dotenv-group"
    assert s.registry.kind == "glue"
    env.write_text("NEXUS_NOPE=1\n")
    with pytest.raises(ConfigError, match="NEXUS_NOPE"):
        load_settings(env_file=env)


def test_every_variable_the_cpp_server_reads_is_a_known_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """One env file serves both servers: the Python side must accept the C++ side's names."""
    import re

    root = Path(__file__).resolve().parents[2] / "ingestion_cpp"
    names = set()
    for source in [*root.glob("*.cc"), *(root / "src").glob("*.cc")]:
        names |= set(re.findall(r'"(NEXUS_[A-Z_]+__[A-Z_]+)"', source.read_text()))
    assert "NEXUS_INGEST__LISTEN" in names
    for name in sorted(names):
        monkeypatch.setenv(name, "1" if name.endswith(("_EVENTS", "_BYTES", "_MS", "_S")) else "x")
    with pytest.raises(ConfigError) as info:  # values are nonsense, but no name is unknown
        load_settings(env_file=None)
    assert "unknown setting" not in str(info.value)


def test_an_empty_variable_means_unset_as_for_the_cpp_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`NEXUS_X=` in an environment file leaves the default, not an empty value (an
    empty path would be the current directory; an empty mechanism an error)."""
    monkeypatch.setenv("NEXUS_INGEST__SCHEMA_IDS", "")
    monkeypatch.setenv("NEXUS_KAFKA__SASL_MECHANISM", "")
    monkeypatch.setenv("NEXUS_SINK__DEAD_LETTER_TOPIC", "")
    settings = load_settings(None, env_file=None)
    assert settings.ingest.schema_ids is None
    assert settings.kafka.sasl_mechanism is None
    assert settings.sink.dead_letter_topic is None
    env_file = tmp_path / ".env"
    env_file.write_text("NEXUS_HEALTH__PORT=\nNEXUS_LAKE__URI=file:///srv/lake\n")
    monkeypatch.delenv("NEXUS_HEALTH__PORT", raising=False)
    monkeypatch.delenv("NEXUS_LAKE__URI", raising=False)
    from_file = load_settings(None, env_file=env_file)
    assert from_file.health.port == 8787
    assert from_file.lake.uri == "file:///srv/lake"


def test_the_lake_reads_committed_transactions_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(env_file=None).kafka.isolation_level == "read_committed"
    monkeypatch.setenv("NEXUS_KAFKA__ISOLATION_LEVEL", "read_uncommitted")
    assert load_settings(env_file=None).kafka.isolation_level == "read_uncommitted"


def test_the_env_file_is_read_as_dotenv_reads_it(tmp_path: Path) -> None:
    """Quotes, inline comments and `export` as python-dotenv (pydantic-settings' own
    source) takes them; the environment still wins over the file, the file over TOML."""
    env = tmp_path / ".env"
    env.write_text(
        "# the sink\n"
        "NEXUS_SINK__MAX_BATCH_RECORDS=500  # records per batch\n"
        'NEXUS_KAFKA__CLIENT_ID="nexus # not a comment"\n'
        "export NEXUS_KAFKA__GROUP_ID='bronze-sink'\n"
        "NEXUS_LAKE__URI=\n"
        "AWS_PROFILE=ops\n"
    )
    toml = tmp_path / "nexus.toml"
    toml.write_text('[kafka]\ngroup_id = "from-toml"\nclient_id = "from-toml"\n')
    settings = load_settings(toml, env_file=env)
    assert settings.sink.max_batch_records == 500
    assert settings.kafka.client_id == "nexus # not a comment"
    assert settings.kafka.group_id == "bronze-sink"
    assert settings.lake.uri == Settings().lake.uri, "an empty value leaves the default"
    os.environ["NEXUS_KAFKA__GROUP_ID"] = "from-environment"
    try:
        assert load_settings(toml, env_file=env).kafka.group_id == "from-environment"
    finally:
        del os.environ["NEXUS_KAFKA__GROUP_ID"]
