"""Write path, first half: the post schema, CrisisLex replay, the Kafka consumer loop.

Errors raised by this package derive from :class:`ingest.errors.IngestError`.
"""
