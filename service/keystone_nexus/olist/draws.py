"""Drawing primitives of the Olist generator: seeded streams, weighted draws, and numpy
arrays turned into Arrow columns without a Python loop per row.

The generator's internals (`generate`, `draw_parties`, `draw_sales` use them); nothing
here is public API. Each entity draws from its own PCG64 stream (`_rng`), so adding a
draw to one entity never changes another's values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]

DAY = 86_400
HOUR = 3_600
_STREAMS = ("geo", "customers", "sellers", "products", "orders", "items", "payments", "reviews")


def scaled_count(real: int, scale: float) -> int:
    """`real` rows scaled linearly, at least 1."""
    return max(1, round(real * scale))


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent PCG64 stream per entity, so each one's draws are stable."""
    entropy = np.random.SeedSequence([seed, _STREAMS.index(stream)])
    return np.random.Generator(np.random.PCG64(entropy))


def _draw(rng: np.random.Generator, weights: Sequence[float] | F64, n: int) -> I64:
    """`n` indices into `weights`, drawn with probability proportional to them."""
    return rng.choice(len(weights), size=n, p=_normalised(np.asarray(weights))).astype(np.int64)


def _normalised(w: NDArray[np.floating] | NDArray[np.integer]) -> F64:
    w = np.asarray(w, dtype=np.float64)
    total = w.sum()
    return np.full(len(w), 1.0 / len(w)) if total <= 0 else w / total


def _group_starts(sizes: I64) -> I64:
    """The first row of each group when groups of `sizes` rows are laid end to end."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def _covering_choice(rng: np.random.Generator, n: int, k: int, weights: F64) -> I64:
    """`n` draws from range(k) by `weights`, where each of the k values appears at
    least once when n >= k."""
    covered = min(n, k)
    head = rng.permutation(k)[:covered]
    tail = rng.choice(k, size=n - covered, p=_normalised(weights))
    return rng.permutation(np.concatenate([head, tail])).astype(np.int64)


def _epoch(timestamp: str) -> int:
    return int(np.datetime64(timestamp, "s").astype(np.int64))


def _midnight(seconds: I64) -> I64:
    return seconds - seconds % DAY


def _midnight_int(seconds: int) -> int:
    return seconds - seconds % DAY


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex_ids(rng: np.random.Generator, n: int) -> NDArray[np.bytes_]:
    """`n` md5-like ids: 32 lower-case hex characters from 16 random bytes each."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 15]
    return chars.view("S32").ravel()


def _zip_strings(zips: I64) -> NDArray[np.bytes_]:
    """Zip prefixes as 5-digit strings, leading zeros kept."""
    digits = (zips[:, None] // 10 ** np.arange(4, -1, -1)) % 10
    return (digits + ord("0")).astype(np.uint8).view("S5").ravel()


def _strings(fixed: NDArray[np.bytes_]) -> pa.Array:
    """A fixed-width ASCII numpy array as an Arrow string array, without copying per row."""
    n, width = len(fixed), fixed.dtype.itemsize
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(fixed).view(np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _labels(values: Sequence[str], index: I64, present: Mask | None = None) -> pa.Array:
    """`values[index]` as an Arrow string array; null where not `present`."""
    indices = pa.array(index.astype(np.int32), mask=None if present is None else ~present)
    return pc.take(pa.array(values, pa.string()), indices)


def _ints(values: F64 | I64, present: Mask) -> pa.Array:
    return pa.array(values.astype(np.int64), mask=~present)


def _timestamps(seconds: I64, present: Mask | None = None) -> pa.Array:
    """Epoch seconds as "YYYY-MM-DD HH:MM:SS" strings; null where not `present`."""
    mask = None if present is None else ~present
    return pa.array(seconds, pa.timestamp("s"), mask=mask).cast(pa.string())
