"""The tokens file of the ingestion servers (keystone_nexus.ingest.auth): what it holds,
what it refuses, and how it is read again when it changes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest

from keystone_nexus.errors import ConfigError
from keystone_nexus.ingest.auth import (
    MISSING_TOKEN,
    AuthFailure,
    Grant,
    TokenFile,
    bearer_token,
    parse_tokens,
    token_sha256,
)

SECRET_SHA256 = (
    "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"  # printf %s secret | sha256sum
)


def tokens(**producers: Mapping[str, object]) -> bytes:
    return orjson.dumps({"producers": producers})


def write(path: Path, text: bytes) -> None:
    """A new file renamed over the old, as a rotation should be done."""
    staged = path.with_suffix(".next")
    staged.write_bytes(text)
    staged.replace(path)


def test_a_producer_is_known_by_its_token_sha256_or_its_certificate_name() -> None:
    assert token_sha256("secret") == SECRET_SHA256 == hashlib.sha256(b"secret").hexdigest()
    producers = parse_tokens(
        tokens(
            **{"orders-app": {"token_sha256": SECRET_SHA256, "entities": ["orders"]}},
            everyone={"token_sha256": "a" * 64, "client_cert_cn": "erp.internal"},
            erp={"client_cert_cn": "erp-2.internal"},
        )
    )
    assert len(producers) == 3
    grants = producers.by_token
    assert producers.by_certificate == {"erp.internal": Grant("everyone"), "erp-2.internal": Grant("erp")}
    orders_app = grants[SECRET_SHA256]
    assert orders_app.producer == "orders-app"
    assert orders_app.allows("olist.orders.v1") and not orders_app.allows("olist.order_items.v1")
    assert orders_app.refusal("olist.order_items.v1") == (
        'permission denied: producer "orders-app" may not publish order_items'
    )
    assert grants["a" * 64] == Grant("everyone") and grants["a" * 64].allows("olist.reviews.v1")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (b"{", "not JSON"),
        (b'{"p": {}}', 'expected {"producers"'),
        (tokens(a={"token_sha256": "ABC"}), "producers.a.token_sha256: expected 64 lower-case hex"),
        (tokens(**{"a b": {"token_sha256": SECRET_SHA256}}), "producers.a b: a producer name"),
        (tokens(a={"token_sha256": SECRET_SHA256, "role": 1}), "producers.a: unknown key role"),
        (tokens(a={"entities": ["orders"]}), "producers.a: expected"),
        (tokens(a={"client_cert_cn": ""}), "producers.a.client_cert_cn: expected the common name"),
        (
            tokens(a={"client_cert_cn": "x"}, b={"client_cert_cn": "x"}),
            "producers.b.client_cert_cn: the same certificate as producer a",
        ),
        (
            tokens(a={"token_sha256": SECRET_SHA256, "entities": ["nope"]}),
            "producers.a.entities: unknown entity 'nope'",
        ),
        (
            tokens(a={"token_sha256": SECRET_SHA256, "entities": []}),
            "producers.a.entities: expected a non-empty",
        ),
        (
            tokens(a={"token_sha256": SECRET_SHA256}, b={"token_sha256": SECRET_SHA256}),
            "producers.b.token_sha256: the same token as producer a",
        ),
    ],
)
def test_a_file_not_as_documented_is_refused_naming_the_entry(text: bytes, says: str) -> None:
    with pytest.raises(ValueError, match="^" + says.replace("(", r"\(").replace("{", r"\{")):
        parse_tokens(text)


def test_the_bearer_token_of_the_call_metadata() -> None:
    assert bearer_token([("user-agent", "x"), ("authorization", "Bearer secret")]) == "secret"
    assert bearer_token([("authorization", "Basic c2VjcmV0")]) is None
    assert bearer_token([("authorization", "Bearer ")]) is None
    assert bearer_token([]) is None


def test_the_file_is_read_again_when_it_changes_and_a_broken_one_keeps_the_last(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    write(path, tokens(first={"token_sha256": SECRET_SHA256}))
    file = TokenFile(path)
    assert file.authenticate([]) is AuthFailure.MISSING_TOKEN
    assert AuthFailure.MISSING_TOKEN.message == MISSING_TOKEN
    assert file.authenticate([("authorization", "Bearer other")]) is AuthFailure.UNKNOWN_TOKEN
    assert file.authenticate([("authorization", "Bearer secret")]) == Grant("first")

    write(path, tokens(second={"token_sha256": token_sha256("other")}))
    assert file.authenticate([("authorization", "Bearer secret")]) is AuthFailure.UNKNOWN_TOKEN
    assert file.authenticate([("authorization", "Bearer other")]) == Grant("second")

    write(path, tokens(second={"token_sha256": token_sha256("other"), "client_cert_cn": "erp.internal"}))
    assert file.authenticate([], certificate_cn="erp.internal") == Grant("second")
    assert file.authenticate([], certificate_cn="someone.else") is AuthFailure.MISSING_TOKEN
    assert (
        file.authenticate([("authorization", "Bearer secret")], "erp.internal") is AuthFailure.UNKNOWN_TOKEN
    )

    write(path, b"{ not json")
    with caplog.at_level(logging.ERROR, logger="keystone_nexus.ingest"):
        assert file.authenticate([("authorization", "Bearer other")]) == Grant("second")
    assert [r.getMessage() for r in caplog.records] == ["tokens_reload_failed"]


def test_an_unusable_file_at_start_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"NEXUS_INGEST__TOKENS_FILE.*No such file"):
        TokenFile(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_bytes(b"[]")
    with pytest.raises(ConfigError, match=r"ingest.tokens_file .*bad.json .*expected \{"):
        TokenFile(tmp_path / "bad.json")
