"""Helpers shared by the benchmarks: machine details and result files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serve.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {
        "host": socket.gethostname(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_result(name: str, payload: dict) -> Path:
    """bench/results/<name>.json with the machine and the time of the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path.write_text(json.dumps(body | {"machine": machine()} | payload, indent=2) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def bench_broker(topic: str = "bench-posts") -> Iterator[Settings]:
    """A throwaway KRaft broker on free ports, with state in a temp dir; yields its settings."""
    from ingest.topics import ensure_topics
    from serve.daemons.kafka import KafkaBroker
    from serve.settings import Settings

    state = Path(tempfile.mkdtemp(prefix="feedpulse-bench-"))
    settings = Settings(
        cache_dir=state,
        kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}", "topic": topic},
        broker={"controller_port": free_port(), "libs_dir": Settings().cache_dir / "current" / "kafka-libs"},
        index={"snapshots": False},
    )
    broker = KafkaBroker(settings.kafka, settings.broker, settings.run_dir)
    broker.start()
    try:
        ensure_topics(settings.kafka)
        yield settings
    finally:
        broker.stop()
        shutil.rmtree(state, ignore_errors=True)
