"""``feedpulse demo``: broker, vLLM, ingest + API, a replay of real posts, one answered question.

Everything the demo starts it also stops on Ctrl-C (or SIGTERM); what was
already running before it is left alone.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from rich.console import Console

from ingest.crisislex import data_dir, event_files
from ingest.replay import Replayer, load_posts
from serve.client import ask, print_answer
from serve.daemons.errors import DaemonStartFailed
from serve.daemons.kafka import KafkaBroker
from serve.daemons.process import Daemon
from serve.daemons.vllm import VLLMServer
from serve.settings import Settings


def run_demo(settings: Settings, event: str, question: str, console: Console) -> None:
    """Start everything, replay ``event`` rebased to now, ask ``question``, then wait for Ctrl-C."""
    stop_on_signals()
    with ExitStack() as started:
        broker = KafkaBroker(settings.kafka, settings.broker, settings.run_dir)
        _start(console, "Kafka broker", broker.start, broker.stop, started)
        llm = VLLMServer(settings.llm, settings.llm_server, settings.run_dir)
        console.print(f"starting vLLM (first start takes a minute or two; log {llm.daemon.log_path})")
        _start(console, "vLLM server", llm.start, llm.stop, started)
        base_url = f"http://{settings.api.host}:{settings.api.port}"
        api = Daemon(f"api-{settings.api.port}", settings.run_dir)
        api.start([sys.executable, "-m", "serve.cli", "run"])
        started.callback(api.stop)
        seconds = api.wait_ready(lambda: _ready(base_url), 300)
        console.print(f"[green]✓[/] feedpulse API ready in {seconds:.0f} s")

        posts = _replay(settings, event, console)
        _wait_indexed(base_url, len(posts), console)
        print_answer(ask(base_url, question), console)
        console.print(f"\n[bold]feedpulse is running:[/] {base_url}  (API docs: {base_url}/docs)")
        console.print('Ask more with `feedpulse ask "..."` or the web page. Ctrl-C stops everything.')
        try:
            while api.status().running:
                time.sleep(1)
            console.print(f"[red]the API exited:[/]\n{api.log_tail()}")
        except KeyboardInterrupt:
            console.print("stopping …")


def stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both unwind the demo, so everything it started is stopped.

    Python leaves SIGINT ignored when it started ignored (a background job), and
    SIGTERM would kill it without running the ExitStack's callbacks.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def _start(console: Console, what: str, start, stop, started: ExitStack) -> None:
    result = start()
    if not result.already_running:
        started.callback(stop)
    state = "already running" if result.already_running else f"ready in {result.seconds:.0f} s"
    console.print(f"[green]✓[/] {what} {state}")


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _replay(settings: Settings, event: str, console: Console) -> list:
    files = [path for path in event_files([data_dir(settings.data)]) if event in path.name]
    if not files:
        raise DaemonStartFailed(f"no CrisisLexT6 file matches event {event!r}")
    posts = load_posts(files, limit=None, rebase_now=True)
    with Replayer(settings.kafka) as replayer:
        result = replayer.replay(posts)
    console.print(
        f"[green]✓[/] replayed {result.acknowledged} posts of {Path(files[0]).stem} "
        f"rebased to now ({result.rate:,.0f} posts/s)"
    )
    return posts


def _wait_indexed(base_url: str, expected: int, console: Console) -> None:
    """Wait until ingest has caught up (lag 0) with the replay."""
    started = time.monotonic()
    with console.status("indexing …") as status:
        while True:
            stats = httpx.get(f"{base_url}/v1/stats", timeout=10).json()
            lag = sum(stats["consumer_lag"].values())
            status.update(f"indexing: {stats['posts_indexed']:,} posts indexed, lag {lag:,}")
            if stats["posts_indexed"] >= expected * 0.95 and lag == 0 and stats["consumer_lag"]:
                break
            time.sleep(1)
    elapsed = time.monotonic() - started
    console.print(f"[green]✓[/] {stats['posts_indexed']:,} posts indexed in {elapsed:.0f} s")
