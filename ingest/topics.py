"""Topic administration: make sure ``posts`` and ``posts.dlq`` exist, probe the broker."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingest.config import KafkaConfig
from ingest.errors import BrokerUnavailable

log = logging.getLogger(__name__)

# Replayed posts carry their original (2012-13) creation times as record
# timestamps; time-based retention would delete them at once, so posts are
# kept until an operator sets a retention of their own.
POSTS_TOPIC_CONFIG = {"retention.ms": "-1", "message.timestamp.type": "CreateTime"}


def admin_client(config: KafkaConfig, timeout_ms: int | None = None) -> KafkaAdminClient:
    """An admin client, or BrokerUnavailable when the broker cannot be reached."""
    timeout = timeout_ms or config.request_timeout_ms
    try:
        return KafkaAdminClient(
            bootstrap_servers=config.bootstrap_servers,
            client_id="feedpulse-admin",
            request_timeout_ms=timeout,
            bootstrap_timeout_ms=timeout,
        )
    except KafkaError as exc:
        raise BrokerUnavailable(f"broker {config.bootstrap_servers} unreachable: {exc}") from exc


def ensure_topics(config: KafkaConfig) -> list[str]:
    """Create the posts and dead-letter topics when missing; returns those created."""
    wanted = [
        NewTopic(config.topic, config.partitions, 1, topic_configs=POSTS_TOPIC_CONFIG),
        NewTopic(config.dlq_topic, 1, 1, topic_configs={"retention.ms": "-1"}),
    ]
    admin = admin_client(config)
    created = []
    try:
        for topic in wanted:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        log.info("topics ready: %s", ", ".join(t.name for t in wanted))
        return created
    except KafkaError as exc:
        raise BrokerUnavailable(f"cannot create topics on {config.bootstrap_servers}: {exc}") from exc
    finally:
        admin.close()


def broker_reachable(config: KafkaConfig, timeout_ms: int = 3_000) -> tuple[bool, str]:
    """Whether the broker answers a metadata request; with the reason when not."""
    try:
        admin = admin_client(config, timeout_ms)
    except BrokerUnavailable as exc:
        return False, str(exc)
    try:
        admin.describe_cluster()
        return True, "ok"
    except KafkaError as exc:
        return False, f"broker {config.bootstrap_servers} did not answer: {exc}"
    finally:
        admin.close()
