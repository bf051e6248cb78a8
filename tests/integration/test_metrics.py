"""/metrics after a replay through the real broker: one freshness observation per indexed post."""

from datetime import datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingest.replay import Replayer, load_posts
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.slow


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_freshness_histogram_counts_every_indexed_post(app_client, settings, crisislex_dir):
    posts = load_posts([crisislex_dir], limit=120, rebase_now=True)
    with Replayer(settings.kafka) as replayer:
        result = replayer.replay(posts)
    assert result.acknowledged == len(posts)
    distinct = len({post.id for post in posts})
    wait_for(lambda: app_client.get("/v1/stats").json()["posts_indexed"] == distinct, 30, "replay indexed")
    wait_for(
        lambda: scrape(app_client).get(("feedpulse_ingest_freshness_seconds_count", ()), 0) == distinct,
        10,
        "freshness observed for every post",
    )
    samples = scrape(app_client)
    assert samples[("feedpulse_index_posts", ())] == distinct
    assert samples[("feedpulse_posts_indexed_total", ())] == distinct
    assert samples[("feedpulse_ingest_batch_size_count", ())] >= 1
    assert samples[("feedpulse_ingest_embed_seconds_count", ())] >= 1
    wait_for(
        lambda: (
            sum(1 for (name, _labels) in scrape(app_client) if name == "feedpulse_consumer_lag")
            == settings.kafka.partitions
        ),
        10,
        "lag exported for every partition",
    )

    detail = app_client.get(f"/v1/posts/{posts[-1].id}").json()
    indexed_at = datetime.fromisoformat(detail["indexed_at"])
    assert indexed_at >= posts[-1].created_at  # rebased: the last post was created "now"
