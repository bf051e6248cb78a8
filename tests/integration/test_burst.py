"""A burst read from the topic's start: the consumer keeps reading, it is never replaced.

Before ingest assigned itself every partition (it was a consumer-group member), 6 of
10 runs of this replay left kafka-python 3.0's one-member group "rebalancing" for
20 s at a time; the stall watch replaced the consumer 2 to 4 times and the posts took
50 to 98 s to be indexed instead of 5 to 8 s. Three runs catch that with ~94% odds.
"""

from __future__ import annotations

import logging

import pytest

from tests.integration.conftest import running_api, send_post, wait_indexed
from tests.integration.test_trends import reduced_replay

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("run", range(3))
def test_a_burst_is_indexed_without_the_consumer_being_replaced(
    run, settings, producer, crisislex_dir, caplog
):
    caplog.set_level(logging.INFO, logger="ingest.worker")
    posts, _, _ = reduced_replay(crisislex_dir)
    with running_api(settings) as client:
        for post in posts:
            send_post(producer, settings.kafka.topic, post)
        waited = wait_indexed(client, len(posts), 600)
    print(f"run {run}: {len(posts)} posts indexed {waited:.1f} s after the last ack")
    messages = [record.getMessage() for record in caplog.records if record.name == "ingest.worker"]
    assert not [m for m in messages if "reconnecting" in m], messages
    assert sum("assigned partitions" in m for m in messages) == 1, messages
