"""The ``feedpulse`` command line: daemons, replay, ingest, API, and a client for asking."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ingest.errors import IngestError
from serve.daemons.errors import DaemonError
from serve.settings import Settings

app = typer.Typer(
    help="feedpulse: what is being posted right now, answered with citations.", no_args_is_help=True
)
kafka_app = typer.Typer(help="The local Kafka broker (KRaft, one node).", no_args_is_help=True)
llm_app = typer.Typer(help="The local vLLM server.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(llm_app, name="llm")
console = Console(stderr=True)


def _settings() -> Settings:
    if console.is_terminal:
        logging.basicConfig(
            level=logging.INFO, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)]
        )
    else:  # a log file (daemons, CI): one unwrapped line per record
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every refused connection as an error; ours say what failed.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return Settings()


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(1)


@kafka_app.command("start")
def kafka_start(
    reset: Annotated[bool, typer.Option(help="Wipe the broker's data dir first.")] = False,
) -> None:
    """Start the broker, wait until it accepts clients, create the topics."""
    from serve.daemons.kafka import KafkaBroker

    settings = _settings()
    broker = KafkaBroker(settings.kafka, settings.broker, settings.run_dir)
    try:
        started = broker.start(reset=reset)
    except (DaemonError, IngestError) as exc:
        raise _fail(str(exc)) from exc
    state = "already running" if started.already_running else f"started in {started.seconds:.1f} s"
    console.print(
        f"kafka {settings.kafka.bootstrap_servers}: {state}; "
        f"topics created: {', '.join(started.created_topics) or 'none (present)'}"
    )


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the broker (SIGTERM, then SIGKILL after 30 s)."""
    from serve.daemons.kafka import KafkaBroker

    settings = _settings()
    stopped = KafkaBroker(settings.kafka, settings.broker, settings.run_dir).stop()
    console.print("kafka stopped" if stopped else "kafka was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Whether the broker process runs and answers clients; exit 1 when it does not."""
    from serve.daemons.kafka import KafkaBroker

    settings = _settings()
    broker = KafkaBroker(settings.kafka, settings.broker, settings.run_dir)
    process, (reachable, reason) = broker.status(), broker.reachable()
    console.print(
        f"kafka process: {'pid ' + str(process.pid) if process.running else 'not running'}; "
        f"{settings.kafka.bootstrap_servers}: {reason}"
    )
    raise typer.Exit(0 if reachable else 1)


@llm_app.command("start")
def llm_start() -> None:
    """Start the vLLM OpenAI server on the prepared model and wait until it serves."""
    from serve.daemons.vllm import VLLMServer

    settings = _settings()
    server = VLLMServer(settings.llm, settings.llm_server, settings.run_dir)
    console.print(f"starting vLLM on {settings.llm.base_url} (log: {server.daemon.log_path}) …")
    try:
        started = server.start()
    except DaemonError as exc:
        raise _fail(str(exc)) from exc
    state = "already running" if started.already_running else f"ready in {started.seconds:.1f} s"
    console.print(f"vLLM {settings.llm.model} at {settings.llm.base_url}: {state}")


@llm_app.command("stop")
def llm_stop() -> None:
    """Stop the vLLM server."""
    from serve.daemons.vllm import VLLMServer

    settings = _settings()
    stopped = VLLMServer(settings.llm, settings.llm_server, settings.run_dir).stop()
    console.print("vLLM stopped" if stopped else "vLLM was not running")


@llm_app.command("status")
def llm_status() -> None:
    """Whether the vLLM server runs and serves the model; exit 1 when it does not."""
    from serve.daemons.vllm import VLLMServer

    settings = _settings()
    server = VLLMServer(settings.llm, settings.llm_server, settings.run_dir)
    process, serving = server.status(), server.serving()
    console.print(
        f"vLLM process: {'pid ' + str(process.pid) if process.running else 'not running'}; "
        f"{settings.llm.base_url}: {'serving ' + settings.llm.model if serving else 'not serving'}"
    )
    raise typer.Exit(0 if serving else 1)


@app.command()
def replay(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="CSV files or folders; default FEEDPULSE_DATA.")
    ] = None,
    speed: Annotated[float, typer.Option(help="X times real time; 0 = as fast as possible.")] = 0.0,
    limit: Annotated[int | None, typer.Option(help="Only the first N posts in time order.")] = None,
    rebase_now: Annotated[bool, typer.Option(help="Shift times so the last post is now.")] = False,
) -> None:
    """Replay CrisisLexT6 tweets into the posts topic in created-time order."""
    from ingest.crisislex import data_dir
    from ingest.replay import Replayer, load_posts

    settings = _settings()
    try:
        sources = paths or [data_dir(settings.data)]
        posts = load_posts(sources, limit, rebase_now)
        with Replayer(settings.kafka) as replayer, _progress() as progress:
            task = progress.add_task("replay", total=len(posts), rate="")
            started = time.monotonic()

            def advance(sent: int) -> None:
                if sent % 100 == 0 or sent == len(posts):
                    rate = sent / max(time.monotonic() - started, 1e-6)
                    progress.update(task, completed=sent, rate=f"{rate:,.0f} posts/s")

            result = replayer.replay(posts, speed, advance)
    except IngestError as exc:
        raise _fail(str(exc)) from exc
    console.print(
        f"replayed {result.acknowledged}/{result.sent} posts in {result.seconds:.1f} s "
        f"({result.rate:.0f} posts/s); {result.failed} failed"
    )
    raise typer.Exit(1 if result.failed else 0)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    )


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Listen address (default FEEDPULSE_API__HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FEEDPULSE_API__PORT).")] = None,
) -> None:
    """Ingest and API in one process: posts are searchable as soon as they are indexed."""
    _serve_http(host, port, run_ingest=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """The API alone, following the snapshots an ingest process writes."""
    _serve_http(host, port, run_ingest=False)


def _serve_http(host: str | None, port: int | None, *, run_ingest: bool) -> None:
    import uvicorn

    from serve.app import create_app

    settings = _settings()
    application = create_app(settings, run_ingest=run_ingest)
    console.print(f"feedpulse API on http://{host or settings.api.host}:{port or settings.api.port}")
    uvicorn.run(
        application,
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_level="info",
        log_config=None,  # keep the handlers set up above; uvicorn's own config would remove them
    )


@app.command()
def ingest() -> None:
    """The ingest worker alone: consume posts, index them, write snapshots for `serve`."""
    from serve.components import ingest_only

    settings = _settings()
    if not settings.index.snapshots:
        raise _fail("`feedpulse ingest` shares its index through snapshots: enable index.snapshots")
    with ingest_only(settings) as service:
        console.print(f"ingesting {settings.kafka.topic}; snapshots in {settings.index.snapshot_dir}")
        signal.signal(signal.SIGINT, lambda *_: service.stop_event.set())
        signal.signal(signal.SIGTERM, lambda *_: service.stop_event.set())
        service.wait()


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="What to ask about the posts.")],
    url: Annotated[str | None, typer.Option(help="API base URL (default from settings).")] = None,
    k: Annotated[int | None, typer.Option(help="Posts to draw on.")] = None,
) -> None:
    """Ask a running feedpulse API and print the answer with its cited posts."""
    from serve.client import ask_and_print

    settings = _settings()
    host = "127.0.0.1" if settings.api.host in ("0.0.0.0", "::") else settings.api.host
    base = url or f"http://{host}:{settings.api.port}"
    raise typer.Exit(ask_and_print(base, question, k, console=Console()))


@app.command()
def demo(
    event: Annotated[str, typer.Option(help="Which CrisisLexT6 event to replay.")] = "Boston_Bombings",
    question: Annotated[str, typer.Option(help="The question to ask once it is indexed.")] = (
        "What is happening with the Boston Marathon bombing suspects?"
    ),
) -> None:
    """Start broker, vLLM, ingest and API; replay real posts; ask one question; Ctrl-C stops all."""
    from serve.demo import run_demo

    settings = _settings()
    try:
        run_demo(settings, event, question, Console())
    except (DaemonError, IngestError) as exc:
        raise _fail(str(exc)) from exc


def main() -> None:
    # SIGTERM ends the process like Ctrl-C, so context managers close cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app()


if __name__ == "__main__":
    main()
