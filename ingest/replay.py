"""Replay CrisisLexT6 into ``posts``: created-time order, paced, optionally rebased to now."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer
from kafka.errors import KafkaError

from ingest.config import KafkaConfig
from ingest.crisislex import Tweet, merged_tweets
from ingest.errors import BrokerUnavailable
from ingest.schema import Post

log = logging.getLogger(__name__)
# CrisisLex carries no author; this names the source instead of inventing people.
CRISISLEX_AUTHOR = "crisislex"


@dataclass(slots=True, frozen=True)
class ReplayResult:
    """How a replay went: posts sent and acknowledged, and over what time."""

    sent: int
    acknowledged: int
    failed: int
    seconds: float
    first_created: datetime | None
    last_created: datetime | None

    @property
    def rate(self) -> float:
        return self.acknowledged / self.seconds if self.seconds > 0 else 0.0


def tweet_to_post(tweet: Tweet, shift_ms: int = 0) -> Post:
    """A CrisisLex tweet as a post, its created time shifted by ``shift_ms``."""
    created_ms = tweet.created_ms + shift_ms
    return Post(
        id=tweet.id,
        text=tweet.text,
        author=CRISISLEX_AUTHOR,
        created_at=datetime.fromtimestamp(created_ms / 1000, tz=UTC),
        lang="en",
        url=f"https://twitter.com/i/web/status/{tweet.id}",
    )


def load_posts(paths: Iterable[str | Path], limit: int | None, rebase_now: bool) -> list[Post]:
    """The first ``limit`` tweets in created-time order, as posts; rebased so the last is now."""
    tweets: list[Tweet] = []
    for tweet in merged_tweets(paths):
        if limit is not None and len(tweets) >= limit:
            break
        tweets.append(tweet)
    shift_ms = int(time.time() * 1000) - tweets[-1].created_ms if rebase_now and tweets else 0
    return [tweet_to_post(tweet, shift_ms) for tweet in tweets]


class Replayer:
    """Produces posts with key = id, value = JSON, record timestamp = created time."""

    def __init__(self, config: KafkaConfig) -> None:
        self._config = config
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=config.bootstrap_servers,
                client_id="feedpulse-replay",
                acks="all",
                linger_ms=10,
                request_timeout_ms=config.request_timeout_ms,
            )
        except KafkaError as exc:
            raise BrokerUnavailable(f"broker {config.bootstrap_servers} unreachable: {exc}") from exc

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._producer.close(timeout=30)

    def replay(
        self,
        posts: Sequence[Post],
        speed: float = 0.0,
        on_progress: Callable[[int], None] | None = None,
    ) -> ReplayResult:
        """Send posts in order; ``speed`` X replays X times faster than real time, 0 = at once."""
        outcome = {"acked": 0, "failed": 0}
        started = time.monotonic()
        first_ms = _ms(posts[0]) if posts else 0
        for sent, post in enumerate(posts, start=1):
            if speed > 0:
                _sleep_until(started + (_ms(post) - first_ms) / 1000 / speed)
            future = self._producer.send(
                self._config.topic,
                key=post.id.encode(),
                value=post.to_json_bytes(),
                timestamp_ms=_ms(post),
            )
            future.add_callback(lambda _meta: outcome.__setitem__("acked", outcome["acked"] + 1))
            future.add_errback(lambda exc: _count_failure(outcome, exc))
            if on_progress:
                on_progress(sent)
        self._producer.flush(timeout=60)
        return ReplayResult(
            sent=len(posts),
            acknowledged=outcome["acked"],
            failed=outcome["failed"],
            seconds=time.monotonic() - started,
            first_created=posts[0].created_at if posts else None,
            last_created=posts[-1].created_at if posts else None,
        )


def _ms(post: Post) -> int:
    return int(post.created_at.timestamp() * 1000)


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _count_failure(outcome: dict[str, int], exc: BaseException) -> None:
    outcome["failed"] += 1
    log.error("post not acknowledged: %s", exc)
