"""A compact set of 64-bit keys, for what a crawl remembers once per request or per book.

A Python ``set`` of 20-byte fingerprints or 16-character UPCs costs 80-100
bytes an entry (the object, its slot in the table, and the fragmentation of
long-lived small objects scattered among the crawl's short-lived ones). Here
each key is one unsigned 64-bit slot of an ``array("Q")`` with open addressing
(linear probing), kept at most ``max_load`` full: 8 / load bytes an entry,
13-27 bytes at the default 0.6, in one block that goes back to the system
when the table grows. (A stdlib array rather than numpy: indexing it gives a
Python int several times faster than a numpy scalar, and every operation here
touches one slot at a time.)

Keys are integers in 0..2**64-1 (``key64`` makes one from bytes or a string);
the slot comes from the key's high bits after a Fibonacci multiply, so keys
that are not uniformly random (sequential ids) spread as well. No settings.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator

_MASK64 = (1 << 64) - 1
_FIBONACCI = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd


def key64(data: bytes | str) -> int:
    """A uniformly random 64-bit key of ``data`` (blake2b; stable across processes)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class OpenTable:
    """Non-zero 64-bit values in one ``array("Q")``: open addressing, linear probing.

    The base of ``KeySet`` and of the near-duplicate index's band tables. A value
    is placed from the home slot of its hash (the high bits after a Fibonacci
    multiply) and the table doubles past ``max_load``; subclasses say which hash
    placed a stored value (``_hash_of``), so growing can place it again.
    """

    def __init__(self, capacity: int = 1024, max_load: float = 0.6) -> None:
        if not 0.1 <= max_load <= 0.9:
            raise ValueError("max_load must be in 0.1..0.9")
        self.max_load = max_load
        self._allocate(max(4, (max(int(capacity / max_load), 1) - 1).bit_length()))

    def _allocate(self, bits: int) -> None:
        self._bits = bits
        self._shift = 64 - bits
        self._mask = (1 << bits) - 1
        self._slots = array("Q", [0]) * (1 << bits)
        self._count = 0  # values stored
        self._limit = int((1 << bits) * self.max_load)

    @property
    def nbytes(self) -> int:
        """Bytes of the table (the whole memory but a few small attributes)."""
        return len(self._slots) * self._slots.itemsize

    def _hash_of(self, value: int) -> int:
        raise NotImplementedError

    def _home(self, hash64: int) -> int:
        return ((hash64 * _FIBONACCI) & _MASK64) >> self._shift

    def _insert(self, hash64: int, value: int) -> None:
        """Store ``value`` in the first empty slot from the home of ``hash64``."""
        slots, mask = self._slots, self._mask
        index = self._home(hash64)
        while slots[index]:
            index = (index + 1) & mask
        self._store(index, value)

    def _store(self, index: int, value: int) -> None:
        self._slots[index] = value
        self._count += 1
        if self._count > self._limit:
            old = self._slots
            self._allocate(self._bits + 1)
            for stored in filter(None, old):
                self._insert(self._hash_of(stored), stored)


class KeySet(OpenTable):
    """A set of 64-bit integer keys in one array (``add``, ``in``, ``len``, iteration)."""

    def __init__(self, capacity: int = 1024, max_load: float = 0.6) -> None:
        super().__init__(capacity, max_load)
        # 0 marks an empty slot, so the key 0 is remembered apart.
        self._has_zero = False

    def _hash_of(self, value: int) -> int:
        return value

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it would go."""
        slots, mask = self._slots, self._mask
        index = self._home(key)
        while (value := slots[index]) and value != key:
            index = (index + 1) & mask
        return index

    def __len__(self) -> int:
        return self._count + self._has_zero

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, int) or not 0 <= key <= _MASK64:
            return False
        if key == 0:
            return self._has_zero
        return self._slots[self._slot(key)] == key

    def add(self, key: int) -> bool:
        """Add ``key``; True if it was not in the set yet."""
        if not 0 <= key <= _MASK64:
            raise ValueError(f"not a 64-bit unsigned key: {key}")
        if key == 0:
            added, self._has_zero = not self._has_zero, True
            return added
        index = self._slot(key)
        if self._slots[index]:
            return False
        self._store(index, key)
        return True

    def update(self, keys: Iterable[int]) -> None:
        for key in keys:
            self.add(key)

    def __iter__(self) -> Iterator[int]:
        if self._has_zero:
            yield 0
        yield from filter(None, self._slots)
