"""MSK IAM test kit: fake AWS credentials in the environment and a token decoder.

The signer signs locally (SigV4 over a URL), so fake keys give real tokens without AWS.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

_AMBIENT = (
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials but the ones a test sets: no files, profiles, metadata service."""
    for name in (*_AMBIENT, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def use_keys(monkeypatch: pytest.MonkeyPatch, key_id: str) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-" + key_id)


@dataclass(frozen=True)
class PresignedUrl:
    raw: str
    host: str
    query: dict[str, str]

    @property
    def key_id(self) -> str:
        return self.query["X-Amz-Credential"].split("/")[0]

    @property
    def region(self) -> str:
        return self.query["X-Amz-Credential"].split("/")[2]


def presigned_url(token: str) -> PresignedUrl:
    """The URL an MSK IAM token carries (base64url without padding)."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    parts = urlsplit(raw)
    assert parts.scheme == "https" and parts.path == "/", raw
    query = {k: v[0] for k, v in parse_qs(parts.query, strict_parsing=True).items()}
    return PresignedUrl(raw, parts.netloc, query)
