"""Near-duplicate detection: MinHash signatures (in workers) and an LSH index (in the crawl).

A signature is the MinHash of a description's word 3-gram shingles: NUM_PERM
minimums of a multiply-shift hash family over 64-bit blake2b shingle hashes,
vectorized with numpy. blake2b, not ``hash()``, because signatures made in
different worker processes must agree (``hash`` is salted per process).
datasketch does the same, but pulls in scipy for what is ~30 lines here.

The index splits each signature into BANDS bands of NUM_PERM/BANDS rows: two
descriptions land in a common bucket with probability 1-(1-s^r)^b for
Jaccard similarity s (here ~0.77 at the 50% point), then the candidate's
estimated similarity is checked against the threshold.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

NUM_PERM = 64
BANDS = 8
_ROWS = NUM_PERM // BANDS
_WORD = re.compile(r"\w+")
# A fixed seed: every worker and every crawl must draw the same hash family.
_rng = np.random.default_rng(0x5EED_B00C)
_MULT = _rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
_ADD = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)


def shingles(text: str, size: int = 3) -> set[str]:
    """Word ``size``-grams of the case-folded text (the whole text when shorter)."""
    words = _WORD.findall(text.casefold())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _hash64(shingle: str, salt: bytes = b"") -> int:
    digest = hashlib.blake2b(shingle.encode(), digest_size=8, salt=salt).digest()
    return int.from_bytes(digest, "little")


def minhash(text: str | None) -> bytes | None:
    """The MinHash signature (NUM_PERM uint32, as bytes) of ``text``; None without words."""
    grams = shingles(text) if text else set()
    if not grams:
        return None
    hashes = np.fromiter((_hash64(g) for g in grams), dtype=np.uint64, count=len(grams))
    # (a*x + b) mod 2^64, top 32 bits: Dietzfelbinger's multiply-shift family.
    with np.errstate(over="ignore"):
        permuted = (hashes[:, None] * _MULT[None, :] + _ADD[None, :]) >> np.uint64(32)
    return permuted.min(axis=0).astype(np.uint32).tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal minimums."""
    return float(np.mean(np.frombuffer(a, np.uint32) == np.frombuffer(b, np.uint32)))


def extra_work(text: str | None, rounds: int) -> int:
    """Deliberate CPU work for benchmarks: ``rounds`` salted pure-Python MinHash passes.

    Each round re-hashes every shingle under a new salt, the way a signature
    with more permutations would; the result is a checksum nobody needs.
    """
    grams = shingles(text) if text else set()
    checksum = 0
    for round_ in range(rounds):
        salt = round_.to_bytes(8, "little")
        checksum ^= min((_hash64(g, salt) for g in grams), default=0)
    return checksum


class NearDuplicateIndex:
    """LSH index of the signatures seen so far; lives in the crawl's main process.

    Memory: one signature (4*NUM_PERM bytes) and up to BANDS bucket entries
    per description, ~1 KiB a book.
    """

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._buckets: list[dict[bytes, int]] = [{} for _ in range(BANDS)]
        self._signatures: list[bytes] = []
        self._keys: list[str] = []

    def __len__(self) -> int:
        return len(self._signatures)

    def add(self, key: str, signature: bytes) -> str | None:
        """Index ``signature`` under ``key``; return the key of an earlier near-duplicate."""
        band_keys = [signature[i * _ROWS * 4 : (i + 1) * _ROWS * 4] for i in range(BANDS)]
        best, best_score = None, self.threshold
        for buckets, band_key in zip(self._buckets, band_keys, strict=True):
            candidate = buckets.get(band_key)
            if candidate is not None:
                score = similarity(signature, self._signatures[candidate])
                if score >= best_score:
                    best, best_score = candidate, score
        position = len(self._signatures)
        self._signatures.append(signature)
        self._keys.append(key)
        for buckets, band_key in zip(self._buckets, band_keys, strict=True):
            buckets.setdefault(band_key, position)
        return None if best is None else self._keys[best]
