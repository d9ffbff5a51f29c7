"""Near-duplicate detection: MinHash signatures (in workers) and an LSH index (in the crawl).

A signature is the MinHash of a description's word 3-gram shingles: NUM_PERM
minimums of a multiply-shift hash family over 64-bit blake2b shingle hashes,
vectorized with numpy (imported by the first signature: in the workers, not in
the crawl's process, whose index needs only the stdlib). blake2b, not ``hash()``,
because signatures made in different worker processes must agree (``hash`` is
salted per process).
datasketch does the same, but pulls in scipy for what is ~30 lines here.

The index splits each signature into BANDS bands of NUM_PERM/BANDS rows: two
descriptions land in a common bucket with probability 1-(1-s^r)^b for
Jaccard similarity s (here ~0.77 at the 50% point), then the candidate's
estimated similarity is checked against the threshold.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import tempfile
from array import array
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from booksscraper.dedup.keyset import OpenTable

NUM_PERM = 64
BANDS = 8
_ROWS = NUM_PERM // BANDS
_WORD = re.compile(r"\w+")
_SIGNATURE_BYTES = 4 * NUM_PERM
_BAND_BYTES = 4 * _ROWS
_MAX_LOAD = 0.7  # of the index's band tables


def shingles(text: str, size: int = 3) -> set[str]:
    """Word ``size``-grams of the case-folded text (the whole text when shorter)."""
    words = _WORD.findall(text.casefold())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def _hash64(shingle: str, salt: bytes = b"") -> int:
    digest = hashlib.blake2b(shingle.encode(), digest_size=8, salt=salt).digest()
    return int.from_bytes(digest, "little")


@cache
def _hash_family() -> tuple[Any, Any, Any]:
    """numpy, and the NUM_PERM (multiplier, addend) pairs of the hash family."""
    import numpy as np

    # A fixed seed: every worker and every crawl must draw the same hash family.
    rng = np.random.default_rng(0x5EED_B00C)
    mult = rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
    return np, mult, rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)


def minhash(text: str | None) -> bytes | None:
    """The MinHash signature (NUM_PERM uint32, as bytes) of ``text``; None without words."""
    grams = shingles(text) if text else set()
    if not grams:
        return None
    np, mult, add = _hash_family()
    hashes = np.fromiter((_hash64(g) for g in grams), dtype=np.uint64, count=len(grams))
    # (a*x + b) mod 2^64, top 32 bits: Dietzfelbinger's multiply-shift family.
    with np.errstate(over="ignore"):
        permuted = (hashes[:, None] * mult[None, :] + add[None, :]) >> np.uint64(32)
    return permuted.min(axis=0).astype(np.uint32).tobytes()


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal minimums."""
    return _share_equal(_uint32s(a), _uint32s(b))


def _uint32s(signature: bytes) -> array:
    return array("I", signature)  # "I" is 32 bits on every platform CPython runs on


def _share_equal(a: array, b: array) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


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


class _BandTable(OpenTable):
    """One band's buckets: 32-bit band hash -> position of the first signature with that band.

    Each slot holds ``hash << 32 | position + 1`` (0 = empty), at most ``_MAX_LOAD``
    full: ~11-23 bytes a book. The slot comes from the hash alone, so the table grows
    without the signatures. Two different bands can share a 32-bit hash: the caller
    compares the bands themselves.
    """

    def __init__(self) -> None:
        super().__init__(capacity=700, max_load=_MAX_LOAD)

    def _hash_of(self, value: int) -> int:
        return value >> 32

    def positions(self, band_hash: int) -> Iterator[int]:
        """Positions stored under ``band_hash``, in probe order."""
        slots, mask = self._slots, self._mask
        index = self._home(band_hash)
        while value := slots[index]:
            if value >> 32 == band_hash:
                yield (value & 0xFFFFFFFF) - 1
            index = (index + 1) & mask

    def insert(self, band_hash: int, position: int) -> None:
        self._insert(band_hash, (band_hash << 32) | (position + 1))


class NearDuplicateIndex:
    """LSH index of the signatures seen so far; lives in the crawl's main process.

    Memory, ~0.1-0.2 KiB a book: per band a ``_BandTable`` (8-16 bytes a book
    each) and an 8-byte file offset. The signatures and keys themselves go to an
    unnamed temporary file (``tempfile.TemporaryFile``, in ``TMPDIR``: ~0.3 KiB a
    book on disk, gone when the index is closed or the process exits) and are read
    back with ``os.pread`` only for a candidate, which is rare: a book whose band
    was seen before. Results are those of a dict per band keyed by the band's bytes.
    """

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._tables = [_BandTable() for _ in range(BANDS)]
        # Record i (signature, then key as UTF-8) is at _offsets[i].._offsets[i + 1] in _file.
        self._offsets = array("q", [0])
        self._count = 0
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed in close()
        self._fd = self._file.fileno()

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held in memory: the band tables and the offsets."""
        offsets = self._offsets.itemsize * len(self._offsets)
        return sum(t.nbytes for t in self._tables) + offsets

    def close(self) -> None:
        self._file.close()

    def _record(self, position: int) -> bytes:
        start = int(self._offsets[position])
        return os.pread(self._fd, int(self._offsets[position + 1]) - start, start)

    def add(self, key: str, signature: bytes) -> str | None:
        """Index ``signature`` under ``key``; return the key of an earlier near-duplicate."""
        if len(signature) != _SIGNATURE_BYTES:
            raise ValueError(f"a signature is {_SIGNATURE_BYTES} bytes, not {len(signature)}")
        values = _uint32s(signature)
        hashes = [_band_hash(signature, band) for band in range(BANDS)]
        best, best_score = None, self.threshold
        missing = []
        for band, (table, band_hash) in enumerate(zip(self._tables, hashes, strict=True)):
            rows = slice(band * _ROWS, (band + 1) * _ROWS)
            for candidate in table.positions(band_hash):
                other = _uint32s(self._record(candidate)[:_SIGNATURE_BYTES])
                if other[rows] == values[rows]:  # not just the same 32-bit hash
                    score = _share_equal(values, other)
                    if score >= best_score:
                        best, best_score = candidate, score
                    break
            else:
                missing.append(band)
        position = self._count
        record = signature + key.encode("utf-8")
        os.write(self._fd, record)
        self._offsets.append(self._offsets[position] + len(record))
        self._count += 1
        for band in missing:
            self._tables[band].insert(hashes[band], position)
        if best is None:
            return None
        return self._record(best)[_SIGNATURE_BYTES:].decode("utf-8")


class SignatureStore:
    """Each cleaned book's signature, in SQLite in JOBDIR: the index of the next run.

    A resumed crawl skips the books earlier runs exported, so its index would know
    none of them; the pipeline replays the stored signatures of exported books into
    the index when the spider opens (a book stored but not exported, killed before
    export or rejected, is fetched and stored again). One row a book (~0.4 KiB on
    disk), written in transactions of ``BATCH`` rows and on close (one transaction a
    row cost ~2x the index's own time a book: BENCHMARKS.md); ``synchronous=OFF``.
    What a ``kill -9`` (or a power cut) loses is the last rows: fewer earlier books
    to compare with, never a wrong flag.
    """

    FILE = "near_duplicates.sqlite"
    BATCH = 100

    def __init__(self, jobdir: Path) -> None:
        jobdir.mkdir(parents=True, exist_ok=True)
        self.path = jobdir / self.FILE
        self._db = sqlite3.connect(self.path, isolation_level=None)  # autocommit
        self._pending: list[tuple[str, bytes]] = []
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS signatures (key TEXT PRIMARY KEY, signature BLOB)"
        )

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        """(key, signature) of every stored book, in the order they were stored."""
        yield from self._db.execute("SELECT key, signature FROM signatures ORDER BY rowid")

    def put(self, key: str, signature: bytes) -> None:
        self._pending.append((key, signature))
        if len(self._pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        rows, self._pending = self._pending, []
        with self._db:  # one transaction
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO signatures VALUES (?, ?)", rows)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()


def _band_hash(signature: bytes, band: int) -> int:
    """A 32-bit hash of one band of a signature.

    Python's ``hash`` of the band's bytes: salted per process, which is fine for a
    table that lives and dies in one process, and the fastest hash at hand.
    """
    return hash(signature[band * _BAND_BYTES : (band + 1) * _BAND_BYTES]) & 0xFFFFFFFF
