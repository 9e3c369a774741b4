"""Who may publish: the producers of the tokens file (`ingest.tokens_file`).

The file is JSON, one entry per producer with the SHA-256 (hex) of its bearer token
and/or the common name of its client certificate (under mutual TLS), and, optionally, the
entities it may publish (left out: every entity):

    {"producers": {
        "orders-app": {"token_sha256": "9f86d0...", "entities": ["orders", "order_items"]},
        "replay": {"token_sha256": "60303a..."},
        "erp": {"client_cert_cn": "erp.internal"}}}

(`printf %s "$TOKEN" | sha256sum` gives a token's hash; the tokens themselves are never
stored.) With a tokens file, every call sends the metadata `authorization: Bearer
<token>` or, under mutual TLS, comes with a client certificate whose common name a
producer has: a call with neither, or with a token no producer has (whatever its
certificate), ends UNAUTHENTICATED before any event is read; an event of an entity its
producer may not publish is rejected on its own, with the reason `permission denied:
...`, its batch-mates go on (as any bad event).
The `source` header of every event written then names the authenticated producer, not
what the client put in the event. Without a tokens file, no call is asked for a token.

The file is re-read, without a restart, at the first call after it changed (its mtime,
size or inode; a call costs one stat), so rotating a token is writing the file anew
(best: a new file renamed over the old). A changed file that does not parse keeps the
producers read before and logs `tokens_reload_failed`; at start it stops the server
(ConfigError). The same rules and answers as the C++ server (src/producer_tokens.h);
tests/integration/conformance/test_auth.py runs both.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.errors import ConfigError

log = logging.getLogger("keystone_nexus.ingest")

MISSING_TOKEN = "missing credentials: send the call metadata authorization: Bearer <token>"
UNKNOWN_TOKEN = "unknown token: no producer of the server's tokens file has it"
_PRODUCER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Producers:
    """The tokens file's producers, by the hex SHA-256 of their token and by the common
    name of their client certificate."""

    def __init__(self) -> None:
        self.by_token: dict[str, Grant] = {}
        self.by_certificate: dict[str, Grant] = {}
        self.names: set[str] = set()

    def __len__(self) -> int:
        return len(self.names)


class AuthFailure(StrEnum):
    """Why a call was refused UNAUTHENTICATED (the metric's `reason` label)."""

    MISSING_TOKEN = "missing_token"
    UNKNOWN_TOKEN = "unknown_token"

    @property
    def message(self) -> str:
        return MISSING_TOKEN if self is AuthFailure.MISSING_TOKEN else UNKNOWN_TOKEN


@dataclass(frozen=True, slots=True)
class Grant:
    """An authenticated producer and the topics it may publish to (None: every topic)."""

    producer: str
    topics: frozenset[str] | None = None

    def allows(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics

    def refusal(self, topic: str) -> str:
        entity = contracts.entity_for_topic(topic).name
        return f'permission denied: producer "{self.producer}" may not publish {entity}'


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_tokens(text: bytes) -> Producers:
    """The tokens file's producers. Pure; ValueError naming the entry when the file is not
    as the module docstring says."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != {"producers"} or not isinstance(doc["producers"], dict):
        raise ValueError('expected {"producers": {NAME: {"token_sha256": HEX, "entities": [...]}}}')
    known = {e.name: e.topic for e in contracts.entities()}
    producers = Producers()
    for name, entry in doc["producers"].items():
        where = f"producers.{name}"
        if not _PRODUCER_NAME.fullmatch(name):
            raise ValueError(f"{where}: a producer name is letters, digits, '.', '_' or '-' (up to 128)")
        if not isinstance(entry, dict) or not {"token_sha256", "client_cert_cn"} & set(entry):
            raise ValueError(
                f'{where}: expected {{"token_sha256": HEX, "entities": [...]}} (or client_cert_cn)'
            )
        unknown = sorted(set(entry) - {"token_sha256", "client_cert_cn", "entities"})
        if unknown:
            raise ValueError(
                f"{where}: unknown key {unknown[0]} (known: token_sha256, client_cert_cn, entities)"
            )
        grant = Grant(name, _topics(where, entry.get("entities"), known))
        producers.names.add(name)
        if "token_sha256" in entry:
            digest = entry["token_sha256"]
            if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
                raise ValueError(
                    f"{where}.token_sha256: expected 64 lower-case hex characters (the token's SHA-256)"
                )
            _add(producers.by_token, digest, grant, f"{where}.token_sha256: the same token")
        if "client_cert_cn" in entry:
            cn = entry["client_cert_cn"]
            if not isinstance(cn, str) or not cn:
                raise ValueError(f"{where}.client_cert_cn: expected the common name of a client certificate")
            _add(producers.by_certificate, cn, grant, f"{where}.client_cert_cn: the same certificate")
    return producers


def _add(grants: dict[str, Grant], key: str, grant: Grant, same: str) -> None:
    if key in grants:
        raise ValueError(f"{same} as producer {grants[key].producer}")
    grants[key] = grant


def _topics(where: str, entities: Any, known: Mapping[str, str]) -> frozenset[str] | None:
    if entities is None:
        return None
    if not isinstance(entities, list) or not entities:
        raise ValueError(f"{where}.entities: expected a non-empty list of entity names (leave it out: all)")
    for name in entities:
        if name not in known:
            raise ValueError(f"{where}.entities: unknown entity {name!r} (known: {', '.join(known)})")
    return frozenset(known[name] for name in entities)


def bearer_token(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    """The token of the call's `authorization: Bearer <token>` metadata, if it has one."""
    for key, value in metadata:
        if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
            token = value.removeprefix("Bearer ").strip()
            return token or None
    return None


class TokenFile:
    """The tokens file, read at start (ConfigError if it cannot be used) and again at the
    first call after it changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._stat()
        try:
            self._grants = parse_tokens(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"ingest.tokens_file {path} (env NEXUS_INGEST__TOKENS_FILE): {_text(exc)}"
            ) from None

    def __len__(self) -> int:
        return len(self._grants)

    def authenticate(
        self, metadata: Iterable[tuple[str, str | bytes]], certificate_cn: str | None = None
    ) -> Grant | AuthFailure:
        """The call's producer: by its bearer token when it sends one, else by the common
        name of its (verified) client certificate."""
        self._reload_if_changed()
        token = bearer_token(metadata)
        if token is not None:
            return self._grants.by_token.get(token_sha256(token), AuthFailure.UNKNOWN_TOKEN)
        if certificate_cn is not None and certificate_cn in self._grants.by_certificate:
            return self._grants.by_certificate[certificate_cn]
        return AuthFailure.MISSING_TOKEN

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _reload_if_changed(self) -> None:
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            grants = parse_tokens(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            log.error(
                "tokens_reload_failed",
                extra={
                    "path": str(self.path),
                    "error": _text(exc),
                    "detail": "kept the producers read before",
                },
            )
            return
        self._grants = grants
        log.info("tokens_reloaded", extra={"path": str(self.path), "producers": len(grants)})


def _text(exc: Exception) -> str:
    return exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
