"""MD5 digests of many numbered messages at once (`prefix + str(n)`), in numpy.

The replay's event ids are MD5s of a row's origin, and hashlib costs ~1 µs a row (the
call, the string, the digest): a second and a half of a million-row replay. Here the 64
steps of MD5's compression run on arrays of rows, ~0.2 µs a row: messages of one length
(numbers of one digit count) are padded alike, the blocks wholly inside the prefix are
compressed once for all, and the rest up to 65,536 rows at a time (numpy's cost per call
wants long arrays). RFC 1321; the digests equal hashlib's
(tests/unit/contracts/test_proto_batch.py).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["md5_numbered"]

_SHIFTS = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_SINES = [int(abs(math.sin(i + 1)) * 2**32) & 0xFFFFFFFF for i in range(64)]
_WORDS = [
    i if i < 16 else (5 * i + 1) % 16 if i < 32 else (3 * i + 5) % 16 if i < 48 else (7 * i) % 16
    for i in range(64)
]
_INITIAL = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)
_CHUNK = 65_536  # rows compressed together
_POWERS = 10 ** np.arange(19, dtype=np.uint64)

State = tuple[NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32], NDArray[np.uint32]]


def md5_numbered(prefix: bytes, numbers: NDArray[np.int64]) -> NDArray[np.uint8]:
    """(len(numbers), 16): the MD5 digest of `prefix + str(n).encode()` for each n >= 0."""
    values = np.asarray(numbers, dtype=np.int64)
    if values.size and values.min() < 0:
        raise ValueError("md5_numbered takes numbers >= 0")
    out = np.empty((values.size, 16), dtype=np.uint8)
    widths = np.searchsorted(_POWERS, values.astype(np.uint64), side="right")
    widths = np.maximum(widths, 1)
    for width in np.unique(widths).tolist():
        rows = np.flatnonzero(widths == width)
        for start in range(0, rows.size, _CHUNK):
            chosen = rows[start : start + _CHUNK]
            out[chosen] = _digests(prefix, values[chosen].astype(np.uint64), int(width))
    return out


def _digests(prefix: bytes, numbers: NDArray[np.uint64], width: int) -> NDArray[np.uint8]:
    length = len(prefix) + width
    blocks = (length + 8) // 64 + 1
    padded = bytearray(blocks * 64)
    padded[: len(prefix)] = prefix
    padded[length] = 0x80
    padded[-8:] = (length * 8).to_bytes(8, "little")
    shared = len(prefix) // 64  # blocks holding prefix bytes only
    state: State = tuple(np.full(1, v, dtype=np.uint32) for v in _INITIAL)  # type: ignore[assignment]
    template = np.frombuffer(bytes(padded), dtype=np.uint8)
    for block in range(shared):
        state = _compress(state, template[block * 64 : (block + 1) * 64].view("<u4")[None, :])
    tail = np.tile(template[shared * 64 :], (numbers.size, 1))
    at = len(prefix) - shared * 64
    for k in range(width):
        tail[:, at + k] = (numbers // _POWERS[width - 1 - k] % 10 + 48).astype(np.uint8)
    words = tail.view("<u4")
    for block in range(blocks - shared):
        state = _compress(state, words[:, block * 16 : (block + 1) * 16])
    return np.stack(state, axis=1).astype("<u4").view(np.uint8)


def _compress(state: State, words: NDArray[np.uint32]) -> State:
    """One MD5 block for every row: `words` (rows, 16) little-endian message words.

    In place on a few arrays (no temporaries per step): the round functions in their
    three-operation forms, and the new b written over the old a, which is spent."""
    rows = len(words)
    columns = np.ascontiguousarray(words.T)  # (16, rows): each step reads one word of every row
    a, b, c, d = (np.broadcast_to(v, (rows,)).copy() for v in state)
    f = np.empty(rows, dtype=np.uint32)
    spill = np.empty(rows, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for i in range(64):
            if i < 16:  # (b & c) | (~b & d)
                np.bitwise_xor(c, d, out=f)
                f &= b
                f ^= d
            elif i < 32:  # (d & b) | (~d & c)
                np.bitwise_xor(b, c, out=f)
                f &= d
                f ^= c
            elif i < 48:
                np.bitwise_xor(b, c, out=f)
                f ^= d
            else:  # c ^ (b | ~d)
                np.invert(d, out=f)
                f |= b
                f ^= c
            f += a
            f += np.uint32(_SINES[i])
            f += columns[_WORDS[i]]
            np.left_shift(f, np.uint32(_SHIFTS[i]), out=spill)
            f >>= np.uint32(32 - _SHIFTS[i])
            f |= spill
            np.add(b, f, out=a)  # the new b; the old a is spent
            a, b, c, d = d, a, b, c
        return (a + state[0], b + state[1], c + state[2], d + state[3])
