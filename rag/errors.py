"""Error tree of the rag package.

RagError
└── GenerationUnavailable   the LLM cannot be reached or failed (HTTP 503)
    └── GenerationTimeout   the LLM accepted the request but did not finish in time (HTTP 504)
"""


class RagError(Exception):
    """Base class of every error raised by ``rag``."""


class GenerationUnavailable(RagError):
    """The LLM server cannot be reached, timed out, or answered with an error."""


class GenerationTimeout(GenerationUnavailable):
    """The LLM was reached but did not answer within ``llm.timeout_s``."""
