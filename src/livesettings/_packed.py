"""A top-level section of a parsed file, kept between loads as bytes instead of live dicts and lists.

A settings object keeps the last parse of each file so that a reload parses only what changed,
and that parse's dicts and lists cost about a third of the validated snapshot. A section whose
input did not change is never read again: its last validated instance is reused (see
``_sections``). So such a section is kept as one ``Packed`` value (``marshal`` in C, then zlib
level 1: a few percent of the live containers' memory) in the reader's parse, the file source's
output and the load's records; only what needs its content opens it (validation when the section
changed, the unknown-key walk once per packed value, ``explain()``, an error's location).

Which sections are packed, and when a load must open them, is decided by the YAML source and the
section reuse (``_sources``, ``_sections``): only sections eligible for reuse, of a single-file
YAML source at least ``PACK_FROM`` bytes long, that no other source of the load sets.
"""

from __future__ import annotations

import marshal
import zlib
from typing import Any

__all__ = ["PACK_FROM", "Packed", "opened"]

PACK_FROM = 8192
"""Files of at least this many bytes have their sections packed; smaller ones stay live.

The same size decides whether the file reader keeps a YAML document's bytes or packs them too
(``_yamlparse._Layout``: a digest and a zlib copy per run of entries).
Packing costs each changed section one ``marshal`` and zlib pass (about 6% of a one-key reload's
instructions at 1,000 leaves); below this size it would save only a few KiB.
"""


class Packed:
    """One section's parsed value as ``marshal`` bytes, zlib-compressed; ``open()`` builds an equal copy.

    Two packed values are equal when their bytes are: equal bytes decode to equal values of the
    same types in the same order (what section reuse calls "the same input"); unequal bytes may
    still hold equal values, which only costs a validation. The repr shows no content.
    """

    __slots__ = ("_blob", "live", "memo")

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        self.memo: Any = None  # what a walk over the content found (``_unknown``), keyed by its caller
        # The parsed value itself, during the load that packed it only (that load validates and walks
        # it, and need not open what it just packed); the load lets go of it when it ends.
        self.live: Any = None

    @classmethod
    def pack(cls, value: Any) -> Packed | None:
        """``value`` packed; ``None`` if it is not plain data (a YAML timestamp, a subclass ...)."""
        try:
            return cls(zlib.compress(marshal.dumps(value), 1))
        except ValueError:
            return None

    def open(self) -> Any:
        """A fresh copy of the packed value (the caller may keep or change it)."""
        return marshal.loads(zlib.decompress(self._blob))

    def value(self) -> Any:
        """The packed value, to read and never change: the live one while its load runs, else a fresh copy."""
        live = self.live
        return live if live is not None else self.open()

    def __eq__(self, other: object) -> bool:
        return type(other) is Packed and self._blob == other._blob

    def __hash__(self) -> int:
        return hash(self._blob)

    def __repr__(self) -> str:
        return f"<packed section, {len(self._blob)} bytes>"


def opened(value: Any) -> Any:
    """``value``, or a fresh copy of its content if it is ``Packed``."""
    return value.open() if type(value) is Packed else value
