"""Claim check: large payloads live outside Temporal; workflows carry only their key.

`FileBlobStore` keeps blobs in a directory: in Kubernetes a volume that the client and the `orders`
workers share (`queues.<q>.volumes`, a ReadWriteMany claim); any store with the same two methods
(S3, GCS, Redis) can replace it. Payloads up to `inline_max_bytes` (env
`ORDERS_BLOB_INLINE_MAX_BYTES`, default 2048) travel in the key itself, as claim-check codecs do
below their threshold: small orders need no shared store.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BLOB_DIR = "/tmp/orders-blobs"
DEFAULT_INLINE_MAX_BYTES = 2048
INLINE_PREFIX = "inline:"


@dataclass(frozen=True)
class FileBlobStore:
    """Content-addressed blobs in a directory; small ones inline in their key."""

    root: Path
    inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES

    def put(self, data: bytes) -> str:
        """Store data; return its key (sha256 of the content, so a retry is idempotent)."""
        if len(data) <= self.inline_max_bytes:
            return INLINE_PREFIX + base64.urlsafe_b64encode(data).decode()
        key = hashlib.sha256(data).hexdigest()
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / key
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return key

    def get(self, key: str) -> bytes:
        """Load the blob stored under key."""
        if key.startswith(INLINE_PREFIX):
            return base64.urlsafe_b64decode(key.removeprefix(INLINE_PREFIX))
        return (self.root / key).read_bytes()


def blob_store() -> FileBlobStore:
    """The store configured by ORDERS_BLOB_DIR and ORDERS_BLOB_INLINE_MAX_BYTES."""
    inline = os.environ.get("ORDERS_BLOB_INLINE_MAX_BYTES", str(DEFAULT_INLINE_MAX_BYTES))
    return FileBlobStore(Path(os.environ.get("ORDERS_BLOB_DIR", DEFAULT_BLOB_DIR)), int(inline))
