"""The compact near-duplicate index answers as a dict per band did, in little memory."""

from __future__ import annotations

import random

import numpy as np
import pytest

from booksscraper.cleanup import signature
from booksscraper.cleanup.signature import BANDS, NUM_PERM, NearDuplicateIndex, minhash, similarity

ROWS = NUM_PERM // BANDS


class DictIndex:
    """The index as it was: a dict per band keyed by the band's bytes (the reference)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.buckets: list[dict[bytes, int]] = [{} for _ in range(BANDS)]
        self.signatures: list[bytes] = []
        self.keys: list[str] = []

    def add(self, key: str, sig: bytes) -> str | None:
        bands = [sig[i * ROWS * 4 : (i + 1) * ROWS * 4] for i in range(BANDS)]
        best, best_score = None, self.threshold
        for buckets, band in zip(self.buckets, bands, strict=True):
            candidate = buckets.get(band)
            if candidate is not None:
                score = similarity(sig, self.signatures[candidate])
                if score >= best_score:
                    best, best_score = candidate, score
        self.signatures.append(sig)
        self.keys.append(key)
        for buckets, band in zip(self.buckets, bands, strict=True):
            buckets.setdefault(band, len(self.signatures) - 1)
        return None if best is None else self.keys[best]


def signatures(count: int, seed: int) -> list[bytes]:
    """Random signatures, a third of them edits of earlier ones (some bands, some rows changed)."""
    rng = np.random.default_rng(seed)
    out: list[bytes] = []
    for _ in range(count):
        if out and rng.random() < 0.35:
            sig = np.frombuffer(out[int(rng.integers(len(out)))], np.uint32).copy()
            changed = rng.choice(NUM_PERM, int(rng.integers(0, 24)), replace=False)
            sig[changed] = rng.integers(0, 2**32, len(changed), dtype=np.uint32)
        else:
            sig = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32)
        out.append(sig.tobytes())
    return out


@pytest.mark.parametrize("threshold", [0.5, 0.8, 1.0])
def test_same_answers_as_a_dict_per_band(threshold: float) -> None:
    sigs = signatures(6000, seed=int(threshold * 10))
    reference, index = DictIndex(threshold), NearDuplicateIndex(threshold)
    expected = [reference.add(f"https://example.com/book_{i}/é", s) for i, s in enumerate(sigs)]
    got = [index.add(f"https://example.com/book_{i}/é", s) for i, s in enumerate(sigs)]
    index.close()
    assert got == expected
    assert sum(g is not None for g in got) > 80  # the test did exercise near-duplicates


def test_band_hash_collisions_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    # Four possible band hashes: nearly every lookup meets other bands under its hash.
    real = signature._band_hash
    monkeypatch.setattr(signature, "_band_hash", lambda sig, band: real(sig, band) & 3)
    sigs = signatures(1500, seed=3)
    reference, index = DictIndex(0.8), NearDuplicateIndex(0.8)
    assert [index.add(str(i), s) for i, s in enumerate(sigs)] == [
        reference.add(str(i), s) for i, s in enumerate(sigs)
    ]


def test_real_descriptions_and_memory_per_book() -> None:
    rng = random.Random(4)
    words = [f"w{i}" for i in range(3000)]
    texts = [" ".join(rng.choices(words, k=60)) for _ in range(20_000)]
    index = NearDuplicateIndex(0.8)
    for i, text in enumerate(texts):
        url = f"https://example.com/catalogue/book_{i}/index.html"
        assert index.add(url, minhash(text)) is None  # type: ignore[arg-type]
    edited = texts[123].replace(texts[123].split()[5], "changed", 1)
    found = index.add("again", minhash(edited))  # type: ignore[arg-type]
    assert found == "https://example.com/catalogue/book_123/index.html"
    # The dict version held ~1.5 KiB a book; signatures and URLs are on disk now.
    assert index.nbytes / len(index) < 250
    index.close()


def test_a_signature_of_another_size_is_refused() -> None:
    index = NearDuplicateIndex()
    with pytest.raises(ValueError):
        index.add("x", b"\0" * 10)
    index.close()
