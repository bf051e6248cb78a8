import threading

from ingest.batching import IDLE_POLL_S, BatchPolicy, collect_batch


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedPoll:
    """Returns the scripted arrivals in turn; each poll advances the clock by ``step_s``."""

    def __init__(self, clock: FakeClock, arrivals: list[list[int]], step_s: float = 0.01) -> None:
        self.clock = clock
        self.arrivals = list(arrivals)
        self.step_s = step_s
        self.calls: list[tuple[float, int]] = []

    def __call__(self, timeout_s: float, room: int) -> list[int]:
        self.calls.append((timeout_s, room))
        self.clock.now += self.step_s
        batch = self.arrivals.pop(0) if self.arrivals else []
        return batch[:room]


def test_a_batch_closes_by_size():
    clock = FakeClock()
    poll = ScriptedPoll(clock, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    batch = collect_batch(poll, BatchPolicy(max_posts=5, max_wait_s=10), threading.Event(), clock)
    assert batch == [1, 2, 3, 4, 5]
    assert [room for _, room in poll.calls] == [5, 2]


def test_a_batch_closes_by_time_after_its_first_post():
    clock = FakeClock()
    poll = ScriptedPoll(clock, [[1], [], [2], [], [], [3]], step_s=0.03)
    batch = collect_batch(poll, BatchPolicy(max_posts=100, max_wait_s=0.1), threading.Event(), clock)
    assert batch == [1, 2]  # opened at 100.03; by 100.15 the 100 ms are up
    first_timeout, _ = poll.calls[0]
    assert first_timeout == IDLE_POLL_S
    assert all(timeout <= 0.1 for timeout, _ in poll.calls[1:])


def test_an_idle_stream_returns_an_empty_batch_after_one_poll():
    clock = FakeClock()
    poll = ScriptedPoll(clock, [])
    assert collect_batch(poll, BatchPolicy(8, 0.1), threading.Event(), clock) == []
    assert len(poll.calls) == 1


def test_shutdown_closes_the_batch_in_hand():
    clock = FakeClock()
    stop = threading.Event()
    arrivals = [[1, 2], [3]]

    def poll(timeout_s: float, room: int) -> list[int]:
        got = arrivals.pop(0) if arrivals else []
        if not arrivals:
            stop.set()  # a signal arrives while the batch is still open
        return got

    assert collect_batch(poll, BatchPolicy(100, 60.0), stop, clock) == [1, 2, 3]


def test_a_stopped_worker_does_not_poll():
    stop = threading.Event()
    stop.set()
    assert collect_batch(lambda t, n: [1], BatchPolicy(8, 0.1), stop) == []


def test_a_batch_goes_at_once_when_the_next_stage_is_idle():
    clock = FakeClock()
    poll = ScriptedPoll(clock, [[1], [2], [3]])
    batch = collect_batch(poll, BatchPolicy(100, 1.0), threading.Event(), clock, next_stage_idle=lambda: True)
    assert batch == [1]


def test_a_batch_grows_while_the_next_stage_is_busy_and_goes_when_it_frees_up():
    clock = FakeClock()
    poll = ScriptedPoll(clock, [[1], [2], [3], [4]])
    busy_polls = iter([False, False, True])
    batch = collect_batch(
        poll, BatchPolicy(100, 1.0), threading.Event(), clock, next_stage_idle=lambda: next(busy_polls)
    )
    assert batch == [1, 2, 3]
