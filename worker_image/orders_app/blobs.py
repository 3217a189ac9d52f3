"""Claim check: large payloads live outside Temporal; workflows carry only their key.

`FileBlobStore` keeps blobs in a directory (a shared volume in Kubernetes); any store with the
same two methods (S3, GCS, Redis) can replace it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BLOB_DIR = "/tmp/orders-blobs"


@dataclass(frozen=True)
class FileBlobStore:
    """Content-addressed blobs in a directory."""

    root: Path

    def put(self, data: bytes) -> str:
        """Store data; return its key (sha256 of the content, so a retry is idempotent)."""
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
        return (self.root / key).read_bytes()


def blob_store() -> FileBlobStore:
    """The store configured by ORDERS_BLOB_DIR."""
    return FileBlobStore(Path(os.environ.get("ORDERS_BLOB_DIR", DEFAULT_BLOB_DIR)))
