"""Error tree of the index package.

IndexStoreError
├── EmbedderError     the embedding model cannot be loaded or failed on a batch
└── SnapshotError     a snapshot cannot be written, or none that verifies can be read
"""


class IndexStoreError(Exception):
    """Base class of every error raised by ``index``."""


class EmbedderError(IndexStoreError):
    """The embedding model cannot be loaded, or it failed on a batch."""


class SnapshotError(IndexStoreError):
    """A snapshot cannot be written, or no snapshot that verifies can be read."""
