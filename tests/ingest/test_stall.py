from ingest.stall import StallWatch, index_behind


def test_idle_consumer_that_is_caught_up_is_never_stalled():
    watch = StallWatch(limit_s=30)
    assert not any(watch.observe(t, polled=0, behind=False) for t in range(0, 300, 5))


def test_behind_without_records_for_the_limit_is_a_stall():
    watch = StallWatch(limit_s=30)
    assert not watch.observe(100, polled=0, behind=True)
    assert not watch.observe(129, polled=0, behind=True)
    assert watch.observe(130, polled=0, behind=True)
    assert watch.stalled_for(130) == 30


def test_any_record_polled_restarts_the_clock():
    watch = StallWatch(limit_s=30)
    watch.observe(0, polled=0, behind=True)
    assert not watch.observe(25, polled=3, behind=True)
    assert not watch.observe(50, polled=0, behind=True)
    assert watch.observe(80, polled=0, behind=True)


def test_catching_up_restarts_the_clock():
    watch = StallWatch(limit_s=30)
    watch.observe(0, polled=0, behind=True)
    watch.observe(20, polled=0, behind=False)
    assert not watch.observe(40, polled=0, behind=True)
    assert watch.stalled_for(40) == 0


def test_index_behind_compares_each_partition_with_its_applied_offset():
    assert not index_behind({0: 10, 1: 0}, {0: 10})
    assert index_behind({0: 10, 1: 3}, {0: 10})
    assert index_behind({0: 11}, {0: 10})
    assert not index_behind({}, {})
