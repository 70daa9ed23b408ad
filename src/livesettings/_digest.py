"""The one content digest of the package: files, inputs and watched targets are hashed alike."""

from __future__ import annotations

import hashlib
__all__ = ["content_digest", "hasher"]


def hasher() -> hashlib.blake2b:
    """A fresh incremental hasher (BLAKE2b, 16 bytes), for content read in pieces."""
    return hashlib.blake2b(digest_size=16)


def content_digest(data: bytes) -> str:
    """The digest that identifies a file's content everywhere in the package."""
    h = hasher()
    h.update(data)
    return h.hexdigest()
