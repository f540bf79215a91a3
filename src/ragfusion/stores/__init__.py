"""Where chunks live and how they are searched: one file per backend, one factory.

``base`` holds the Store contract; ``local`` is the embedded default, ``milvus`` the
scale-out backend; ``open_store`` picks one from the spec saved in the index manifest.
"""

from __future__ import annotations

from ragfusion.stores.base import MetadataFilter, Store
from ragfusion.stores.factory import StoreSpec, drop_store, open_store, parse_store_spec

__all__ = ["MetadataFilter", "Store", "StoreSpec", "drop_store", "open_store", "parse_store_spec"]
