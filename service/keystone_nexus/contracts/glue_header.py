"""The AWS Glue Schema Registry wire format.

A record written by the AWS serdes starts with an 18-byte header::

    byte 0      header version, always 3
    byte 1      compression: 0 none, 5 zlib
    bytes 2-17  the schema version UUID (big-endian, as uuid.UUID.bytes)

followed by the (possibly compressed) payload. Records without the header are
mapped to a schema by their topic.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from uuid import UUID

HEADER_VERSION = 3
COMPRESSION_NONE = 0
COMPRESSION_ZLIB = 5
HEADER_SIZE = 18


class WireFormatError(ValueError):
    """A record that claims the Glue header but cannot be decoded; never retriable."""


@dataclass(frozen=True, slots=True)
class Decoded:
    schema_version_id: UUID | None
    payload: bytes


def encode(payload: bytes, schema_version_id: UUID, *, compression: int = COMPRESSION_NONE) -> bytes:
    """Prefix `payload` with the Glue header for `schema_version_id`."""
    if compression == COMPRESSION_ZLIB:
        payload = zlib.compress(payload)
    elif compression != COMPRESSION_NONE:
        raise ValueError(f"compression must be {COMPRESSION_NONE} or {COMPRESSION_ZLIB}")
    return bytes((HEADER_VERSION, compression)) + schema_version_id.bytes + payload


def has_header(value: bytes) -> bool:
    """True when `value` starts like a Glue-framed record (JSON never starts with byte 3)."""
    return len(value) >= 2 and value[0] == HEADER_VERSION


def header_schema_version(header: bytes) -> UUID:
    """The schema version id of a Glue header alone (the payload, compressed or not, is
    not read); raises WireFormatError for a truncated header or an unknown compression."""
    if len(header) < HEADER_SIZE:
        raise WireFormatError(f"truncated Glue header: {len(header)} bytes, need {HEADER_SIZE}")
    if header[1] not in (COMPRESSION_NONE, COMPRESSION_ZLIB):
        raise WireFormatError(f"unknown Glue compression byte {header[1]}")
    return UUID(bytes=header[2:HEADER_SIZE])


def decode(value: bytes) -> Decoded:
    """Split a record into its schema version id and payload.

    A value without the header is returned whole with no schema version id; a value
    with a header version byte but a bad compression byte or truncated UUID raises.
    """
    if not has_header(value):
        return Decoded(None, value)
    if len(value) < HEADER_SIZE:
        raise WireFormatError(f"truncated Glue header: {len(value)} bytes, need {HEADER_SIZE}")
    compression = value[1]
    body = value[HEADER_SIZE:]
    if compression == COMPRESSION_ZLIB:
        try:
            body = zlib.decompress(body)
        except zlib.error as exc:
            raise WireFormatError(f"zlib payload does not decompress: {exc}") from exc
    elif compression != COMPRESSION_NONE:
        raise WireFormatError(f"unknown Glue compression byte {compression}")
    return Decoded(UUID(bytes=value[2:HEADER_SIZE]), body)
