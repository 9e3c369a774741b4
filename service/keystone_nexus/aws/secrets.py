"""Settings that reference AWS Secrets Manager, resolved once at start-up.

Any string setting may hold `aws-secretsmanager:<secret id>` (the whole secret string)
or `aws-secretsmanager:<secret id>#<key>` (one key of a JSON secret), e.g.
NEXUS_KAFKA__SASL_PASSWORD=aws-secretsmanager:prod/msk-scram#password. Values land in
the settings as they are typed (SecretStr stays SecretStr); errors name the setting and
the secret id, never the value. A secret that is missing or denied is a ConfigError; one
Secrets Manager could not answer (unreachable, throttled, failing) a SecretUnavailableError,
which is retriable: the daemon waits for it at start like for its other dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, SecretStr

from keystone_nexus.aws.clients import AwsOptions, client
from keystone_nexus.aws.errors import classify
from keystone_nexus.config import Settings
from keystone_nexus.errors import ConfigError, SecretUnavailableError

PREFIX = "aws-secretsmanager:"


def references(settings: Settings) -> dict[tuple[str, str], str]:
    """(section, field) -> reference, for every setting that points at a secret."""
    found = {}
    for section_name in Settings.model_fields:
        section = getattr(settings, section_name)
        if not isinstance(section, BaseModel):
            continue
        for field_name in type(section).model_fields:
            value = getattr(section, field_name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if isinstance(text, str) and text.startswith(PREFIX):
                found[(section_name, field_name)] = text.removeprefix(PREFIX)
    return found


async def _value(sm: Any, what: str, ref: str, fetched: dict[str, str]) -> str:
    """The value `ref` (`<secret id>[#key]`, prefix removed) names; `what` (the setting or
    variable) is named by the errors, the value never."""
    secret_id, _, key = ref.partition("#")
    if secret_id not in fetched:
        try:
            answer = await sm.get_secret_value(SecretId=secret_id)
        except (ClientError, BotoCoreError) as exc:
            failure = classify(exc)
            code = failure.code or type(exc).__name__
            problem = SecretUnavailableError if failure.transient else ConfigError
            raise problem(f"{what}: secret {secret_id!r} could not be read ({code})") from None
        fetched[secret_id] = answer.get("SecretString") or ""
    if not key:
        return fetched[secret_id]
    try:
        return str(orjson.loads(fetched[secret_id])[key])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ConfigError(f"{what}: secret {secret_id!r} has no JSON key {key!r}") from None


async def resolve_environment(environ: Mapping[str, str], options: AwsOptions) -> dict[str, str]:
    """`environ` with every value that is a secret reference replaced by the secret: for a
    process that cannot resolve them itself (the C++ server, through `nexus secrets exec`)."""
    refs = {name: value.removeprefix(PREFIX) for name, value in environ.items() if value.startswith(PREFIX)}
    resolved = dict(environ)
    if not refs:
        return resolved
    fetched: dict[str, str] = {}
    async with client(options, "secretsmanager") as sm:
        for name, ref in sorted(refs.items()):
            resolved[name] = await _value(sm, name, ref, fetched)
    return resolved


async def resolve_secrets(settings: Settings, options: AwsOptions) -> Settings:
    """The settings with every secret reference replaced by the secret's value."""
    refs = references(settings)
    if not refs:
        return settings
    fetched: dict[str, str] = {}
    async with client(options, "secretsmanager") as sm:
        for (section_name, field_name), ref in refs.items():
            value = await _value(sm, f"{section_name}.{field_name}", ref, fetched)
            section = getattr(settings, section_name)
            current = getattr(section, field_name)
            typed = SecretStr(str(value)) if isinstance(current, SecretStr) else str(value)
            section = section.model_copy(update={field_name: typed})
            settings = settings.model_copy(update={section_name: section})
    return settings
