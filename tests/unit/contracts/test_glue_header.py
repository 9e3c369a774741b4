import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystone_nexus.contracts import glue_header as wire


@given(payload=st.binary(max_size=2048), version=st.uuids(), zlib=st.booleans())
def test_encode_decode_roundtrip(payload: bytes, version: uuid.UUID, zlib: bool) -> None:
    compression = wire.COMPRESSION_ZLIB if zlib else wire.COMPRESSION_NONE
    framed = wire.encode(payload, version, compression=compression)
    assert framed[0] == 3 and framed[1] == compression
    assert framed[2:18] == version.bytes
    decoded = wire.decode(framed)
    assert decoded.schema_version_id == version
    assert decoded.payload == payload


def test_the_header_layout_is_the_glue_one() -> None:
    version = uuid.UUID("12345678-1234-5678-1234-567812345678")
    framed = wire.encode(b'{"a":1}', version)
    assert framed.hex()[:36] == "0300" + version.hex
    assert len(framed) == wire.HEADER_SIZE + 7


@given(st.binary(max_size=256).filter(lambda b: not b or b[0] != 3))
def test_values_without_header_pass_through(value: bytes) -> None:
    decoded = wire.decode(value)
    assert decoded.schema_version_id is None
    assert decoded.payload == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (bytes([3, 0, 1, 2]), "truncated"),
        (bytes([3, 9]) + uuid.uuid4().bytes + b"{}", "compression"),
        (bytes([3, 5]) + uuid.uuid4().bytes + b"not zlib", "zlib"),
    ],
)
def test_broken_headers_raise(value: bytes, reason: str) -> None:
    with pytest.raises(wire.WireFormatError, match=reason):
        wire.decode(value)
