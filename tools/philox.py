"""philox.py — the engine's counter-based random numbers (engine/philox.h) in Python.

Philox4x32-10 keyed by the seed, counter = (block, stream), block = index // 4 picking a
4-word output and index % 4 the word in it. Streams carry their purpose in the top byte.
  philox_u32(key, stream, index)      the 32-bit word `index` of a stream
  philox_uniform(key, stream, index)  float32 in [0, 1) from the top 24 bits
  philox_normal(key, stream, index)   Box-Muller in float64 (C's libm through `math`),
                                      rounded to float32; pairs (2j, 2j+1) share a transform
  philox_u32_array(key, stream, n)    words 0..n-1 at once (numpy, for the shuffle keys)
Everything is exact integer arithmetic except philox_normal, which calls the same libm
functions (log, sqrt, sin, cos) as the C++ code, so the float32 results agree bit for bit.
"""

import math
from enum import IntEnum

import numpy as np

_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK32 = 0xFFFFFFFF
_MASK56 = 0x00FFFFFFFFFFFFFF


class Stream(IntEnum):
    INIT = 1        # weight initialisation: index = (net << 16) | parameter tensor number
    SHUFFLE = 2     # per-epoch permutation keys: index = epoch
    NOISE = 3       # training noise: index = draw number
    FIXED_NOISE = 4  # the fixed noise batch of the sample grids
    SAMPLE = 5
    EVAL = 6


def stream_id(purpose, index):
    return (int(purpose) << 56) | (int(index) & _MASK56)


def philox4x32_10(block, stream, key):
    """The four 32-bit words of counter (block, stream) under `key` (Python ints)."""
    c0, c1 = block & _MASK32, (block >> 32) & _MASK32
    c2, c3 = stream & _MASK32, (stream >> 32) & _MASK32
    k0, k1 = key & _MASK32, (key >> 32) & _MASK32
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        hi0, lo0 = p0 >> 32, p0 & _MASK32
        hi1, lo1 = p1 >> 32, p1 & _MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


def philox_u32(key, stream, index):
    return philox4x32_10(index >> 2, stream, key)[index & 3]


def philox_uniform(key, stream, index):
    return np.float32(philox_u32(key, stream, index) >> 8) * np.float32(1.0 / 16777216.0)


def philox_normal(key, stream, index):
    pair = index >> 1
    r = philox4x32_10(pair >> 1, stream, key)
    a, b = r[(pair & 1) * 2], r[(pair & 1) * 2 + 1]
    u1 = (float(a) + 1.0) * (1.0 / 4294967296.0)  # (0, 1]
    u2 = float(b) * (1.0 / 4294967296.0)          # [0, 1)
    radius = math.sqrt(-2.0 * math.log(u1))
    angle = 6.283185307179586476925 * u2
    return np.float32(radius * math.sin(angle) if index & 1 else radius * math.cos(angle))


def philox_normals(key, stream, n):
    """Normals 0..n-1 of a stream as a float32 array."""
    return np.array([philox_normal(key, stream, i) for i in range(n)], dtype=np.float32)


def philox_uniforms(key, stream, n):
    words = philox_u32_array(key, stream, n)
    return (words >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def philox_u32_array(key, stream, n):
    """Words 0..n-1 of a stream (uint32 array), vectorised over blocks."""
    nblocks = (n + 3) // 4
    u64 = np.uint64
    block = np.arange(nblocks, dtype=np.uint64)
    c0 = block & u64(_MASK32)
    c1 = block >> u64(32)
    c2 = np.full(nblocks, stream & _MASK32, dtype=np.uint64)
    c3 = np.full(nblocks, (stream >> 32) & _MASK32, dtype=np.uint64)
    k0, k1 = key & _MASK32, (key >> 32) & _MASK32
    for _ in range(10):
        p0 = u64(_M0) * c0  # < 2^64: exact in uint64
        p1 = u64(_M1) * c2
        hi0, lo0 = p0 >> u64(32), p0 & u64(_MASK32)
        hi1, lo1 = p1 >> u64(32), p1 & u64(_MASK32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ u64(k0), lo1, hi0 ^ c3 ^ u64(k1), lo0
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
    words = np.stack([c0, c1, c2, c3], axis=1).reshape(-1)[:n]
    return words.astype(np.uint32)


def shuffle_permutation(seed, epoch, n):
    """Indices 0..n-1 sorted stably by philox_u32(seed, Shuffle:epoch, i)."""
    keys = philox_u32_array(seed, stream_id(Stream.SHUFFLE, epoch), n)
    return np.argsort(keys, kind="stable").astype(np.int64)
