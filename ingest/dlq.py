"""Dead letters: records that cannot be indexed go to ``posts.dlq`` with their provenance."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.config import KafkaConfig
from ingest.errors import BrokerUnavailable

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A rejected record and why: the raw key and value are kept unchanged."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str

    def headers(self) -> list[tuple[str, bytes]]:
        return [
            ("error", self.error.encode()[:4096]),
            ("source.topic", self.topic.encode()),
            ("source.partition", str(self.partition).encode()),
            ("source.offset", str(self.offset).encode()),
        ]


class DeadLetterWriter:
    """Sends dead letters to the DLQ topic; ``flush`` makes them durable (acks=all)."""

    def __init__(self, producer: KafkaProducer, config: KafkaConfig) -> None:
        self._producer = producer
        self._topic = config.dlq_topic
        self._pending = []

    def send(self, letter: DeadLetter) -> None:
        log.warning("dead letter %s[%d]@%d: %s", letter.topic, letter.partition, letter.offset, letter.error)
        value = letter.value if letter.value is not None else b""
        self._pending.append(
            self._producer.send(self._topic, key=letter.key, value=value, headers=letter.headers())
        )

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until every dead letter sent so far is acknowledged.

        Raises:
            BrokerUnavailable: when one was not; the caller must not commit past it.
        """
        if not self._pending:
            return
        try:
            self._producer.flush(timeout=timeout_s)
            for future in self._pending:
                future.get(timeout=timeout_s)
        except KafkaError as exc:
            raise BrokerUnavailable(f"dead letters not acknowledged: {exc}") from exc
        finally:
            self._pending = [f for f in self._pending if not f.is_done]
