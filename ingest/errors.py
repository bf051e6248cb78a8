"""Error tree of the ingest package.

IngestError
├── InvalidRecord      a Kafka record that cannot become a post or a delete (goes to the DLQ)
├── BrokerUnavailable  the broker cannot be reached or refused a request
├── DatasetError       a replay source is missing or malformed
├── IngestStageFailed  the embed/index stage failed on a batch (ingest reconnects and re-reads)
└── ConsumerStalled    the consumer read nothing for too long while records waited (it is replaced)
"""


class IngestError(Exception):
    """Base class of every error raised by ``ingest``."""


class InvalidRecord(IngestError):
    """A record that fails to parse or validate; it is routed to the dead-letter topic."""


class BrokerUnavailable(IngestError):
    """The Kafka broker cannot be reached, or it refused a request."""


class DatasetError(IngestError):
    """A replay data set is missing or malformed."""


class IngestStageFailed(IngestError):
    """The embed/index stage failed on a batch; nothing past it was committed."""


class ConsumerStalled(IngestError):
    """The consumer read nothing for ``stall_timeout_s`` while records waited; it is replaced."""
