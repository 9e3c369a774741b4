"""The lake's object store: one interface, a local-directory and an S3 implementation,
and :func:`open_store` to pick one by uri (``file://...`` or ``s3://...``)."""

from __future__ import annotations

from keystone_nexus.lake.local import LocalStore
from keystone_nexus.lake.open import open_store
from keystone_nexus.lake.s3 import S3Limits, S3Store
from keystone_nexus.lake.store import ObjectStore, StoredObject

__all__ = ["LocalStore", "ObjectStore", "S3Limits", "S3Store", "StoredObject", "open_store"]
