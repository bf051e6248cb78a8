"""Write path, second half, and the read path's store: embedder, FAISS store, snapshots.

Errors raised by this package derive from :class:`index.errors.IndexStoreError`.
"""
