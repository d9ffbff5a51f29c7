"""Near-duplicate detection: MinHash signatures (in workers) and an LSH index (in the crawl).

A signature is the MinHash of a description's word 3-gram shingles: NUM_PERM
minimums of a multiply-shift hash family over 64-bit blake2b shingle hashes,
vectorized with numpy where it is loaded (the cleanup workers preload it), in
plain Python otherwise, with the same result: the crawl's own process, which
cleans the first items inline and whose index needs only the stdlib, never
imports numpy (~0.1-0.2 s of a one-page crawl's start). blake2b, not ``hash()``,
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
import sys
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


# The hash family: NUM_PERM (odd multiplier, addend) pairs, every worker and every crawl the
# same. Drawn once with numpy's default_rng(0x5EED_B00C) (two rng.integers(..., 2**63, NUM_PERM,
# dtype=uint64) calls, the multipliers made odd with *2+1); written out so that a process
# without numpy draws the same (tests/cleanup/test_functions.py checks them against the draw).
MULTIPLIERS = (
    14831396312596465631, 17676947840256234963, 3066534589889192373,
    3846227358977155767, 6624475625472014053, 2949009047719627823,
    4164573851566362033, 841182601058403911, 17742534919273508849,
    18167981936601018913, 12779150177447916501, 12328982776344250291,
    9613270598855959383, 12056539023838469877, 2148304049738436695,
    16889238595174896091, 9158140599787331277, 5561223797663233283,
    14543089395620669613, 16168888142716572275, 10849773964248377537,
    6919262100992327693, 16870316534360330883, 6727535505235724721,
    15311446990591467723, 15346395898001362967, 13413697181443508777,
    6139537862073425479, 11612343840587339547, 8827803722663843431,
    18284727660607314771, 10891965781136143333, 1330392283774495649,
    9510203391415667991, 6496058903162514845, 3155826519436175899,
    9195341478481360969, 3361112726050992341, 12211437449306780283,
    8541062627358936255, 16589137019714522347, 11128473458273093755,
    717583144051000109, 12947066792342329137, 8026490763988237535,
    12889526422909839771, 7850243706682468317, 16050335205535122635,
    9637577641907900601, 2816205515201818109, 5287611378843627167,
    3528224775460775269, 8992278340630170725, 11814177603018042279,
    736417032874422197, 1518856473286387141, 17128077185682233025,
    8057523916898053707, 3138475781506274491, 12214926877381427807,
    4481014838392875345, 13391283928223750319, 16137648099599986713,
    13826162380332894321,
)
ADDENDS = (
    5931456435209704924, 274252558298646245, 373356040506140196,
    3830343457023768434, 3148125429009158523, 5557629463337766836,
    2023647663469331348, 8313072013358335915, 5733234393554747330,
    7575635135334624326, 7772625075104526756, 2708299887265907727,
    22500319035518037, 1245133769692646802, 2463128264568795261,
    8893632950311029317, 6610829217698600196, 5062953721975194105,
    6594717933311317344, 6154968280612631137, 7953927484623079435,
    3228115988181657989, 5731699188428277849, 1831570427949883797,
    795000813202630057, 8644321406431033848, 4244551114050300017,
    6541813846053909306, 2652016675175841032, 5412497212806739310,
    3846242151108254068, 4871445284910683000, 3872785039876822492,
    610700881933111363, 1448629309151320294, 5034279123543151051,
    2289771770462818116, 6291331441568724838, 7793090092597266257,
    5352218790740295753, 8409437145707406636, 4980923156635686631,
    8511910330337835637, 381044201277696957, 2221314184271466341,
    3876787239965526475, 4118368772664898758, 221251494272567476,
    5559291359366544239, 8976785774050858475, 5268443360103948293,
    9137808330289347191, 5559966523532397734, 3327031610048604331,
    8955996477788733088, 1097266023202488054, 1724202135798859746,
    4101972470318369704, 531705456437841938, 6516548877470746830,
    7151867185632531758, 8159166821636630329, 6423443312462736973,
    6507838862760893453,
)
_MASK64 = 2**64 - 1


@cache
def _numpy_family() -> tuple[Any, Any, Any]:
    """numpy and the hash family as uint64 arrays."""
    import numpy as np

    return np, np.array(MULTIPLIERS, dtype=np.uint64), np.array(ADDENDS, dtype=np.uint64)


def minhash(text: str | None) -> bytes | None:
    """The MinHash signature (NUM_PERM uint32, as bytes) of ``text``; None without words.

    With numpy when this process has it loaded already (a cleanup worker), in plain Python
    otherwise (a few items cleaned inline in the crawl's process): the same bytes.
    """
    grams = shingles(text) if text else set()
    if not grams:
        return None
    if "numpy" not in sys.modules:
        return _minhash_python([_hash64(g) for g in grams])
    np, mult, add = _numpy_family()
    hashes = np.fromiter((_hash64(g) for g in grams), dtype=np.uint64, count=len(grams))
    # (a*x + b) mod 2^64, top 32 bits: Dietzfelbinger's multiply-shift family.
    with np.errstate(over="ignore"):
        permuted = (hashes[:, None] * mult[None, :] + add[None, :]) >> np.uint64(32)
    return permuted.min(axis=0).astype(np.uint32).tobytes()


def _minhash_python(hashes: list[int]) -> bytes:
    """``minhash`` without numpy: (a*x + b) mod 2^64, top 32 bits, per permutation."""
    return array("I", [
        min(((x * a + b) & _MASK64) >> 32 for x in hashes)
        for a, b in zip(MULTIPLIERS, ADDENDS, strict=True)
    ]).tobytes()


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
