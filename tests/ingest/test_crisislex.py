import itertools
from datetime import UTC, datetime

import pytest

from ingest.crisislex import event_files, merged_tweets, read_event, snowflake_ms
from ingest.errors import DatasetError
from ingest.replay import load_posts


def test_snowflake_time_matches_known_tweet():
    # 325208201740029952 was posted on 2013-04-19 (Boston Bombings file).
    created = datetime.fromtimestamp(snowflake_ms(325208201740029952) / 1000, tz=UTC)
    assert created.date().isoformat() == "2013-04-19"


def test_reads_all_six_events(crisislex_dir):
    files = event_files([crisislex_dir])
    assert len(files) == 6
    boston = read_event(next(f for f in files if "Boston" in f.name))
    assert len(boston) == 10_012
    assert sum(t.on_topic for t in boston) == 5_648
    assert all(a.created_ms <= b.created_ms for a, b in itertools.pairwise(boston))


def test_merge_is_in_created_time_order(crisislex_dir):
    times = [tweet.created_ms for tweet in merged_tweets([crisislex_dir])]
    assert len(times) == 60_082
    assert times == sorted(times)


def test_rebase_puts_the_last_post_at_now(crisislex_dir):
    posts = load_posts([crisislex_dir], limit=500, rebase_now=True)
    assert len(posts) == 500
    age = datetime.now(UTC) - posts[-1].created_at
    assert abs(age.total_seconds()) < 5
    assert posts[0].created_at < posts[-1].created_at


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        event_files([tmp_path / "nope"])
    with pytest.raises(DatasetError, match=r"no .* files"):
        event_files([tmp_path])
