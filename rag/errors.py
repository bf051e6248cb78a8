"""Error tree of the rag package.

RagError
└── GenerationUnavailable   the LLM server cannot be reached, timed out or failed
"""


class RagError(Exception):
    """Base class of every error raised by ``rag``."""


class GenerationUnavailable(RagError):
    """The LLM server cannot be reached, timed out, or answered with an error."""
